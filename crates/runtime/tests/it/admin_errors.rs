//! Every error answer of the admin API has one shape, `{"error": "a sentence"}`, whoever gives
//! it: a handler, the guard, the router, or actix-web's own extractors and body limit (which
//! answer in plain text unless told otherwise).

use serde_json::Value;
use simrotor_config::OtpSource;

use crate::helpers::AdminApi;

/// The body is `{"error": "…"}` and nothing else.
fn assert_error_shape(body: &Value) {
    let fields: Vec<&String> = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"))
        .keys()
        .collect();
    assert_eq!(fields, ["error"], "{body}");
    assert!(
        !body["error"].as_str().unwrap().is_empty(),
        "an empty sentence: {body}"
    );
}

#[actix_web::test]
async fn a_query_string_that_does_not_parse_is_a_400_in_the_one_shape() {
    let api = AdminApi::start(OtpSource::Both).await;
    for query in ["all=maybe", "all=1&all=2", "all=%ZZ"] {
        let (status, body) = api.get(&format!("/api/suspects?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_error_shape(&body);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("the query string"),
            "{body}"
        );
    }
    api.handle.stop().await;
}

#[actix_web::test]
async fn a_path_part_of_the_wrong_type_is_a_404_in_the_one_shape() {
    let api = AdminApi::start(OtpSource::Both).await;
    for path in [
        "/api/servers/abc/pause",
        "/api/servers/99999/pause",
        "/api/suspects/seven/resolve",
    ] {
        let (status, body) = api.post_raw(path, "{}").await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_error_shape(&body);
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(path), "{message}");
    }
    api.handle.stop().await;
}

#[actix_web::test]
async fn an_unknown_route_or_method_is_a_404_in_the_one_shape() {
    let api = AdminApi::start(OtpSource::Both).await;
    for (status, body) in [
        api.get("/nope").await,
        api.get("/sms").await,
        api.post_raw("/api/servers", "").await,
    ] {
        assert_eq!(status, 404, "{body}");
        assert_error_shape(&body);
    }
    api.handle.stop().await;
}

#[actix_web::test]
async fn a_body_over_the_limit_is_a_413_in_the_one_shape() {
    let api = AdminApi::start(OtpSource::Both).await;
    let huge = format!(
        r#"{{"msisdn": "081200000001", "message": "{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let (status, body) = api.post_raw("/sms", &huge).await;
    assert_eq!(status, 413, "{body}");
    assert_error_shape(&body);
    api.handle.stop().await;
}

#[actix_web::test]
async fn a_view_without_the_runtime_attached_is_a_503_in_the_one_shape() {
    let api = AdminApi::start(OtpSource::Both).await;
    for path in ["/api/servers", "/api/batches", "/api/today", "/metrics"] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_error_shape(&body);
        assert!(
            body["error"].as_str().unwrap().contains("not attached"),
            "{body}"
        );
    }
    let (status, body) = api.post_raw("/api/servers/9903/pause", "").await;
    assert_eq!(status, 503, "{body}");
    assert_error_shape(&body);
    api.handle.stop().await;
}
