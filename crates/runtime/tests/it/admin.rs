//! The admin API over real HTTP: its authentication rules, and the operator's views and actions
//! on a running runtime against the simulator.

use std::time::Duration;

use serde_json::{Value, json};
use simrotor_config::{AdminToken, OtpSource, SimulatorFaults};
use simrotor_runtime::http::{self, AdminError, AdminState};

use crate::helpers::{AdminApi, client, hub, logs};
use crate::scenario_helpers::{Setup, World, numbers_where, sim_config, wait_for};

const TOKEN: &str = "test-token-0123456789abcdef";

async fn guarded() -> AdminApi {
    let hub = hub(OtpSource::Both);
    let state = AdminState::new(hub.clone()).with_token(Some(AdminToken::new(TOKEN)));
    let handle = http::serve("127.0.0.1:0", state).await.unwrap();
    AdminApi {
        handle,
        hub,
        refills: Default::default(),
        client: client(),
    }
}

async fn status_of(c: &AdminApi, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let req = match method {
        "GET" => c.client.get(c.url(path)),
        _ => c.client.post(c.url(path)).body("{}"),
    };
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[actix_rt::test]
async fn with_a_token_every_route_but_the_page_needs_it_and_refusals_are_logged_without_it() {
    let _ = logs();
    let c = guarded().await;
    let wrong = "wrong-guess-7777777777777";
    for (method, path) in [
        ("GET", "/api/otp"),
        ("GET", "/otp/waiting"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/api/servers"),
        ("GET", "/api/vouchers"),
        ("GET", "/api/vouchers?format=csv"),
        ("GET", "/api/history/081234567890"),
        ("GET", "/api/hourly"),
        ("POST", "/api/otp"),
        ("POST", "/sms"),
        ("POST", "/pool/refilled"),
        ("POST", "/api/servers/9903/pause"),
    ] {
        let (status, body) = status_of(&c, method, path, None).await;
        assert_eq!(status, 401, "{method} {path} without a token: {body}");
        assert!(body.contains("no bearer token"), "{body}");
        let (status, body) = status_of(&c, method, path, Some(wrong)).await;
        assert_eq!(status, 401, "{method} {path} with a wrong token: {body}");
        assert!(body.contains("a wrong bearer token"), "{body}");
    }
    // The right token passes.
    let (status, body) = status_of(&c, "GET", "/api/otp", Some(TOKEN)).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, _) = status_of(&c, "GET", "/health", Some(TOKEN)).await;
    assert_eq!(status, 200);
    // The page holds no data: it loads without a token, then asks for one.
    let page = c.client.get(c.url("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("/api/servers"));

    let text = logs().text();
    let refusals: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Refused an admin request.") && l.contains("path=\"/api/otp\""))
        .collect();
    assert!(refusals.len() >= 2, "refusals are logged:\n{text}");
    assert!(!text.contains(TOKEN), "the token reached the log");
    assert!(!text.contains(wrong), "a presented token reached the log");
    c.handle.stop().await;
}

/// Without a token the API is open to loopback, so no web page may reach it: a cross-site
/// request (another Origin) and a Host that is a DNS name (rebinding) are refused; the CLI (no
/// Origin) and the page itself (same Origin) pass.
#[actix_rt::test]
async fn no_web_page_of_another_site_can_steer_the_runtime() {
    let c = AdminApi::start(OtpSource::Both).await;
    let addr = c.handle.addr().to_string();
    let post = |origin: Option<String>, host: Option<&str>| {
        let mut req = c
            .client
            .post(c.url("/pool/refilled"))
            .header("content-type", "text/plain")
            .body("{}");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(h) = host {
            req = req.header("host", h.to_owned());
        }
        req.send()
    };
    let evil = post(Some("https://evil.example".to_owned()), None)
        .await
        .unwrap();
    assert_eq!(evil.status().as_u16(), 403);
    assert!(evil.text().await.unwrap().contains("cross-site"));
    let rebound = post(None, Some("evil.example:9800")).await.unwrap();
    assert_eq!(rebound.status().as_u16(), 403);
    assert!(
        rebound
            .text()
            .await
            .unwrap()
            .contains("Host that is a name")
    );
    assert_eq!(c.refills.load(std::sync::atomic::Ordering::SeqCst), 0);

    let page = post(Some(format!("http://{addr}")), None).await.unwrap();
    assert_eq!(page.status().as_u16(), 204, "the page's own origin passes");
    let cli = post(None, None).await.unwrap();
    assert_eq!(cli.status().as_u16(), 204, "the CLI sends no Origin");
    let local = post(None, Some("localhost:9800")).await.unwrap();
    assert_eq!(local.status().as_u16(), 204);
    assert_eq!(c.refills.load(std::sync::atomic::Ordering::SeqCst), 3);
    c.handle.stop().await;
}

#[actix_rt::test]
async fn beyond_loopback_the_api_refuses_to_start_without_a_token() {
    let state = AdminState::new(hub(OtpSource::Both));
    match http::serve("0.0.0.0:0", state).await {
        Err(AdminError::NoToken { addr }) => {
            assert!(addr.ip().is_unspecified());
        }
        other => panic!("started without a token: {other:?}"),
    }
    let err = http::serve("0.0.0.0:0", AdminState::new(hub(OtpSource::Both)))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("admin.token"), "{err}");
    // With a token it listens.
    let state = AdminState::new(hub(OtpSource::Both)).with_token(Some(AdminToken::new(TOKEN)));
    let handle = http::serve("0.0.0.0:0", state).await.unwrap();
    handle.stop().await;
}

async fn get(world: &World, path: &str) -> (u16, Value) {
    let url = world.running.admin.as_ref().unwrap().url(path);
    let resp = world.http.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn server(servers: &Value, port: u16) -> &Value {
    servers
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["port"] == port)
        .unwrap_or_else(|| panic!("server {port} missing from {servers}"))
}

/// The operator pauses, resumes, drains, disables and enables servers through the API while
/// they buy; the views show each change, wrong requests get 404/409, every action is audited,
/// and the metrics and the recap count the run.
#[actix_rt::test]
async fn the_operator_steers_servers_through_the_api_and_sees_it() {
    let sim = simrotor_config::SimulatorConfig {
        faults: SimulatorFaults {
            latency: Duration::from_millis(15),
            ..SimulatorFaults::default()
        },
        ..sim_config(60_000)
    };
    let numbers = numbers_where(&sim, 12_700, 4, |_| true);
    let mut setup = Setup::new(sim, 2, numbers);
    setup.config.products.wanted = vec!["647".to_owned()];
    let mut world = World::start(setup).await;
    let port = world.ports[0];

    // Unknown server, unknown action, resume of a running server.
    let (status, body) = world.post_admin("/api/servers/1/pause", &json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("server 1"),
        "{body}"
    );
    let (status, body) = world
        .post_admin(&format!("/api/servers/{port}/explode"), &json!({}))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("unknown action"));
    let (status, body) = world
        .post_admin(&format!("/api/servers/{port}/resume"), &json!({}))
        .await;
    assert_eq!(status, 409, "{body}");

    // Pause: accepted at once, recorded PAUSED at the next step boundary.
    let (status, body) = world
        .post_admin(
            &format!("/api/servers/{port}/pause"),
            &json!({"who": "budi", "why": "checking the SIM tray"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "pause");
    let paused = wait_for("the server to show PAUSED", || {
        let world = &world;
        async move {
            let (_, servers) = get(world, "/api/servers").await;
            let s = server(&servers, port).clone();
            (s["state"] == "PAUSED").then_some(s)
        }
    })
    .await;
    assert_eq!(paused["mode"], "pause");
    assert!(
        paused["msisdn"].is_string(),
        "the number stays bound: {paused}"
    );
    let held = paused["purchases"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, servers) = get(&world, "/api/servers").await;
    assert_eq!(server(&servers, port)["purchases"].as_u64().unwrap(), held);

    // Resume, then disable (shown disabled), then enable.
    let (status, body) = world
        .post_admin(&format!("/api/servers/{port}/resume"), &json!({}))
        .await;
    assert_eq!(
        (status, body["mode"].as_str()),
        (200, Some("run")),
        "{body}"
    );
    let (status, body) = world
        .post_admin(
            &format!("/api/servers/{port}/disable"),
            &json!({"who": "budi"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "disabled");
    assert_eq!(body["enabled"], false);
    let (status, body) = world
        .post_admin(&format!("/api/servers/{port}/enable"), &json!({}))
        .await;
    assert_eq!(
        (status, body["mode"].as_str()),
        (200, Some("run")),
        "{body}"
    );
    let (status, _) = world
        .post_admin(&format!("/api/servers/{port}/enable"), &json!({}))
        .await;
    assert_eq!(status, 409, "enabling an enabled server");

    world.finished().await;

    let (status, metrics) = get(&world, "/metrics").await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap().to_owned();
    for needle in [
        "simrotor_purchases_total{status=\"SUKSES\"}",
        "simrotor_pulsa_spent_rupiah_total",
        "simrotor_bindings_ended_total{reason=\"EXHAUSTED\"} 4",
        "simrotor_servers{state=\"IDLE\"} 2",
        "simrotor_slot_call_seconds_count{call=\"trx_idv\",outcome=\"ok\"}",
        "simrotor_pool_available{batch=\"SCN\"} 0",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    let (status, recap) = get(&world, "/api/batches").await;
    assert_eq!(status, 200);
    assert_eq!(recap["total"]["numbers"]["done"], 4, "{recap}");
    let (status, health) = get(&world, "/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["pid"], std::process::id());
    assert_eq!(health["servers"]["IDLE"], 2, "{health}");

    let text = logs().text();
    let pause_line = text
        .lines()
        .find(|l| l.contains("event=\"operator\"") && l.contains("checking the SIM tray"))
        .unwrap_or_else(|| panic!("no audit line for the pause:\n{text}"));
    assert!(pause_line.contains("action=\"pause\""), "{pause_line}");
    assert!(pause_line.contains("who=\"budi\""), "{pause_line}");
    assert!(
        pause_line.contains(&format!("server={port}")),
        "{pause_line}"
    );
    let _ = world.stop().await;
}

/// A drain called off while its number is still being worked: the row goes DRAINING → BUSY, and
/// when the run ends every server is IDLE again (not left PAUSED by the drain it no longer has).
#[actix_rt::test]
async fn a_drain_called_off_mid_binding_leaves_the_server_working_then_idle() {
    let sim = simrotor_config::SimulatorConfig {
        faults: SimulatorFaults {
            latency: Duration::from_millis(15),
            ..SimulatorFaults::default()
        },
        ..sim_config(60_000)
    };
    let numbers = numbers_where(&sim, 12_900, 3, |_| true);
    let mut setup = Setup::new(sim, 2, numbers);
    setup.config.products.wanted = vec!["647".to_owned()];
    let mut world = World::start(setup).await;
    let port = world.ports[0];
    wait_for("a first purchase on the server", || {
        let world = &world;
        async move {
            let (_, servers) = get(world, "/api/servers").await;
            (server(&servers, port)["purchases"].as_u64() > Some(0)).then_some(())
        }
    })
    .await;
    let (status, body) = world
        .post_admin(&format!("/api/servers/{port}/drain"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_for("DRAINING", || {
        let world = &world;
        async move {
            let (_, servers) = get(world, "/api/servers").await;
            (server(&servers, port)["state"] == "DRAINING").then_some(())
        }
    })
    .await;
    let (status, body) = world
        .post_admin(&format!("/api/servers/{port}/resume"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_for("BUSY again", || {
        let world = &world;
        async move {
            let (_, servers) = get(world, "/api/servers").await;
            let s = server(&servers, port);
            (s["state"] == "BUSY" || s["state"] == "WAITING_OTP").then_some(())
        }
    })
    .await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;
    assert_eq!(
        crate::scenario_helpers::ledger_problems(&store, &ledger).await,
        Vec::<String>::new()
    );
    crate::scenario_helpers::assert_all_settled(&store).await;
    sim.stop().await;
}
