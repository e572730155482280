//! The CLI's side of the admin API (`docs/admin-api.md`): every verb that talks to the running
//! runtime goes through here, so the address, the token and the "nothing is running" message
//! are the same for all of them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use simrotor_config::{AdminToken, Config};

/// What went wrong talking to the runtime.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "no simrotor runtime answers at {addr} (start one with `simrotor start`, or point --admin at it)"
    )]
    NotRunning { addr: String },
    #[error(
        "the runtime at {addr} did not answer in time ({reason}); it may be busy, or the request may have taken effect: look before repeating it"
    )]
    NoAnswer { addr: String, reason: String },
    #[error("the runtime at {addr} refused: {message}")]
    Refused {
        addr: String,
        status: StatusCode,
        message: String,
    },
    #[error("the runtime at {addr} answered something unreadable: {reason}")]
    Unreadable { addr: String, reason: String },
}

#[derive(Clone)]
pub struct AdminClient {
    addr: String,
    token: Option<AdminToken>,
    http: reqwest::Client,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("addr", &self.addr)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// The address a client dials for a listen address: a runtime listening on every interface is
/// reached on loopback.
fn dial_addr(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => {
            let ip = match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            SocketAddr::new(ip, addr.port()).to_string()
        }
        _ => listen.to_owned(),
    }
}

impl AdminClient {
    /// The runtime of this configuration: `--admin` when given, else `admin.listen`; the token
    /// from `admin.token`.
    pub fn new(config: &Config, admin: Option<&str>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            addr: dial_addr(admin.unwrap_or(&config.admin.listen)),
            token: config.admin.token.clone(),
            http,
        })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AdminError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            // Only a refused connection means nothing runs there; a slow runtime is not gone.
            if e.is_connect() {
                AdminError::NotRunning {
                    addr: self.addr.clone(),
                }
            } else {
                AdminError::NoAnswer {
                    addr: self.addr.clone(),
                    reason: e.to_string(),
                }
            }
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| AdminError::Unreadable {
            addr: self.addr.clone(),
            reason: e.to_string(),
        })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(AdminError::Refused {
                addr: self.addr.clone(),
                status,
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| AdminError::Unreadable {
            addr: self.addr.clone(),
            reason: e.to_string(),
        })
    }

    /// A POST whose answer carries nothing to read (`204`).
    pub async fn poke(&self, path: &str) -> Result<(), AdminError> {
        self.send::<serde_json::Value>(self.http.post(self.url(path)).body("{}"))
            .await
            .map(|_| ())
            .or_else(|e| match e {
                // An empty answer is the expected one.
                AdminError::Unreadable { .. } => Ok(()),
                other => Err(other),
            })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AdminError> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, AdminError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_on_every_interface_is_dialled_on_loopback() {
        assert_eq!(dial_addr("0.0.0.0:9800"), "127.0.0.1:9800");
        assert_eq!(dial_addr("[::]:9800"), "[::1]:9800");
        assert_eq!(dial_addr("10.0.0.5:9800"), "10.0.0.5:9800");
    }
}
