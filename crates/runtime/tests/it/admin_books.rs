//! The books over the admin API after a real run against the simulator: the vouchers as JSON and
//! CSV with their filters, a number's history, the hourly series, and the refusals of a filter
//! that does not parse, each naming what was wrong.

use serde_json::Value;
use simrotor_domain::TrxStatus;
use simrotor_persistence::VoucherRow;

use crate::scenario_helpers::{
    Setup, World, all_purchases, binding_rows, numbers_where, sim_config,
};

async fn get(
    world: &World,
    path: &str,
    accept: Option<&str>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let url = world.running.admin.as_ref().unwrap().url(path);
    let mut req = world.http.get(url);
    if let Some(accept) = accept {
        req = req.header("Accept", accept);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.text().await.unwrap(), headers)
}

async fn get_json(world: &World, path: &str) -> (u16, Value) {
    let (status, text, _) = get(world, path, None).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[actix_rt::test]
async fn the_books_are_served_as_json_and_csv_with_their_filters() {
    let sim = simrotor_config::SimulatorConfig {
        suspect_rate: 0.3,
        ..sim_config(60_000)
    };
    let numbers = numbers_where(&sim, 15_100, 3, |_| true);
    let mut world = World::start(Setup::new(sim, 2, numbers.clone())).await;
    world.finished().await;
    let purchases = all_purchases(&world.store).await;
    let sukses: Vec<i64> = purchases
        .iter()
        .filter(|p| p.status == TrxStatus::Success)
        .map(|p| p.id)
        .collect();
    let suspects: Vec<i64> = purchases
        .iter()
        .filter(|p| p.status == TrxStatus::Suspect)
        .map(|p| p.id)
        .collect();
    assert!(!sukses.is_empty() && !suspects.is_empty(), "{purchases:?}");

    // JSON: the sold vouchers by default, each with its code, product, number and server.
    let (status, body) = get_json(&world, "/api/vouchers").await;
    assert_eq!(status, 200, "{body}");
    let rows = body["vouchers"].as_array().unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let mut sorted = sukses.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert_eq!(body["summary"]["count"], sukses.len());
    let total: u64 = purchases
        .iter()
        .filter(|p| p.status == TrxStatus::Success)
        .map(|p| p.price.get())
        .sum();
    assert_eq!(body["summary"]["total_price"], total);
    for r in rows {
        assert!(!r["voucher"].as_str().unwrap().is_empty(), "{r}");
        assert!(
            world
                .ports
                .contains(&(r["server"].as_u64().unwrap() as u16)),
            "{r}"
        );
        assert!(r["product_name"].is_string(), "{r}");
        assert_eq!(r["status"], "SUKSES");
    }
    let (_, body) = get_json(&world, "/api/vouchers?status=suspect").await;
    let ids: Vec<i64> = body["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, suspects);
    let (_, body) = get_json(&world, "/api/vouchers?status=all&batch=SCN").await;
    assert_eq!(body["summary"]["count"], purchases.len());
    let (_, body) = get_json(&world, "/api/vouchers?status=all&batch=OTHER").await;
    assert_eq!(body["summary"]["count"], 0);
    let (_, body) = get_json(&world, "/api/vouchers?since=2000-01-01&until=2000-01-02").await;
    assert_eq!(body["summary"]["count"], 0, "nothing was bought in 2000");
    let (_, body) = get_json(&world, "/api/vouchers?since=1h").await;
    assert_eq!(
        body["summary"]["count"],
        sukses.len(),
        "all of it in the last hour"
    );

    // CSV, by ?format=csv or by Accept: the export's header, one line per voucher.
    let (status, csv, headers) = get(&world, "/api/vouchers?format=csv", None).await;
    assert_eq!(status, 200, "{csv}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), VoucherRow::HEADER.join(","));
    assert_eq!(lines.count(), sukses.len());
    let (_, by_accept, _) = get(&world, "/api/vouchers", Some("text/csv")).await;
    assert_eq!(by_accept, csv, "the same range twice gives the same file");

    // A filter that does not parse: 400, naming it.
    for (path, named) in [
        ("/api/vouchers?since=yesterdayish", "since"),
        ("/api/vouchers?until=soon", "until"),
        ("/api/vouchers?status=sold", "status"),
        ("/api/vouchers?format=xlsx", "format"),
        ("/api/vouchers?batch=no%20spaces", "batch"),
        ("/api/vouchers?since=2026-12-02&until=2026-12-01", "until"),
        ("/api/hourly?hours=0", "hours"),
        ("/api/history/not-a-number", "msisdn"),
    ] {
        let (status, body) = get_json(&world, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(named), "{path}: {error}");
    }

    // A number's history, asked in its local form: its bindings and purchases.
    let m = &numbers[0];
    let local = format!("0{}", &m.as_str()[2..]);
    let (status, h) = get_json(&world, &format!("/api/history/{local}")).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["msisdn"], m.as_str());
    let bindings = h["bindings"].as_array().unwrap();
    assert!(!bindings.is_empty());
    let states: Vec<&str> = bindings[0]["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"BOUND"), "{states:?}");
    assert_eq!(states.last(), Some(&"LOGGED_OUT"), "{states:?}");
    assert!(states.contains(&"TRANSACTING"), "{states:?}");
    let shown: usize = bindings
        .iter()
        .map(|b| b["purchases"].as_array().unwrap().len())
        .sum();
    let bought = purchases.iter().filter(|p| &p.msisdn == m).count();
    assert_eq!(shown, bought);
    let text = h.to_string();
    for row in binding_rows(&world.store).await {
        for token in [row.token_login, row.token_location].into_iter().flatten() {
            assert!(!text.contains(&token), "a token in the history");
        }
    }
    let (status, body) = get_json(&world, "/api/history/081299999999").await;
    assert_eq!(status, 404, "{body}");

    // The last 24 hours, hour by hour: this run is in them.
    let (status, series) = get_json(&world, "/api/hourly").await;
    assert_eq!(status, 200, "{series}");
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 24);
    let counted: u64 = series.iter().map(|h| h["sukses"].as_u64().unwrap()).sum();
    assert_eq!(counted, sukses.len() as u64);
    let spent: u64 = series.iter().map(|h| h["spent"].as_u64().unwrap()).sum();
    assert_eq!(spent, total);
    let _ = world.stop().await;
}
