//! A request as an intake received it: the bytes as they came, so that signatures verify.

use std::fmt;

/// The method of a posted request (SmsForwarder and Kannel also use GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One request to an intake: method, the raw query string (without `?`), the headers (names
/// in any case) and the body byte-exact.
#[derive(Clone)]
pub struct Posted<'a> {
    pub method: Method,
    pub query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl<'a> Posted<'a> {
    pub fn new(method: Method, query: &'a str, body: &'a [u8]) -> Self {
        Self {
            method,
            query,
            headers: Vec::new(),
            body,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The first header of that name, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type of the body (`application/json`, …), lowercased, without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// Headers and bodies carry signatures, tokens and codes: only the shape shows.
impl fmt::Debug for Posted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        request_shape(
            f,
            "Posted",
            self.method,
            self.query,
            &self.headers,
            self.body,
        )
    }
}

/// A request's `Debug` without a value: its method, the query's and body's lengths, the header
/// names (a request posted in, or one the simulator posts out).
pub(crate) fn request_shape(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    method: Method,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> fmt::Result {
    f.debug_struct(name)
        .field("method", &method)
        .field("query_len", &query.len())
        .field(
            "headers",
            &headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        )
        .field("body_len", &body.len())
        .finish()
}
