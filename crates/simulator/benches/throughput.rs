//! Is one simulator process ever what limits an end-to-end run? Requests per second of the
//! simulator on 20 ports at zero latency, next to a bare actix-web handler on 20 ports, both
//! driven the same way: 20 concurrent keep-alive loops (one per port) of `/balance_pulsa` after
//! a login, through one reqwest client, client and servers sharing this machine's cores.
//!
//! `cargo bench -p simrotor-simulator --bench throughput` (ROUNDS, REQUESTS per loop: env
//! `SIM_BENCH_ROUNDS`, `SIM_BENCH_REQUESTS`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot run should stop loudly

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use simrotor_domain::{Msisdn, Rupiah};
use simrotor_simulator::{Simulator, SimulatorConfig};

const PORTS: usize = 20;

/// The same size as the simulator's balance answer, so both sides move the same bytes.
const BARE_BODY: &str = r#"{"req":{"username":"081200000000"},"res":{"balance":"27000","cardactiveuntil":"02 Mar 2027","expires":"Berlaku hingga 02 Mar 27","graceperioduntil":"01 May 2027"}}"#;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A bare actix-web server on 20 ephemeral ports, on its own thread and actix system like the
/// simulator, with the same worker count (actix's default).
fn start_bare() -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> = (0..PORTS)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let mut server = HttpServer::new(|| {
                App::new().default_service(web::to(|| async {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(BARE_BODY)
                }))
            })
            .disable_signals();
            for l in listeners {
                server = server.listen(l).unwrap();
            }
            server.run().await.unwrap();
        });
    });
    addrs
}

/// 20 loops at once, `requests` each, one URL per loop; requests per second overall.
async fn drive(client: &reqwest::Client, urls: &[String], requests: usize) -> f64 {
    let started = Instant::now();
    let loops: Vec<_> = urls
        .iter()
        .map(|url| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                for _ in 0..requests {
                    let resp = client.get(&url).send().await.unwrap();
                    assert!(resp.status().is_success());
                    let body = resp.bytes().await.unwrap();
                    assert!(!body.is_empty());
                }
            })
        })
        .collect();
    for l in loops {
        l.await.unwrap();
    }
    (urls.len() * requests) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let rounds = env_or("SIM_BENCH_ROUNDS", 5);
    let requests = env_or("SIM_BENCH_REQUESTS", 2_000);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = SimulatorConfig {
            pulsa_min: Rupiah::new(27_000),
            pulsa_max: Rupiah::new(27_000),
            reseller_rate: 1.0,
            blocked_rate: 0.0,
            ..SimulatorConfig::default()
        };
        let sim = Simulator::start(config, "127.0.0.1", &[0; PORTS])
            .await
            .unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();

        // One number logged in per server; the loops then read its balance.
        let mut sim_urls = Vec::new();
        for (i, base) in sim.base_urls().iter().enumerate() {
            let m = Msisdn::parse(&format!("0812{i:08}")).unwrap();
            let local = m.local();
            let otp = format!("{base}/otp?username={local}&pin=1234");
            client.get(otp).send().await.unwrap();
            let code = sim.latest_otp(&m).unwrap();
            let verify = format!("{base}/verifyOtp?username={local}&otp={code}");
            let answer: serde_json::Value = client
                .get(verify)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            // The real shape (the default): no envelope on /verifyOtp.
            assert_eq!(answer["status"], "0", "{answer}");
            sim_urls.push(format!("{base}/balance_pulsa?username={local}"));
        }
        let bare_urls: Vec<String> = start_bare()
            .iter()
            .map(|a| format!("http://{a}/balance_pulsa?username=081200000000"))
            .collect();

        // Warm both up (connections, allocators), then alternate rounds.
        drive(&client, &sim_urls, requests / 10).await;
        drive(&client, &bare_urls, requests / 10).await;
        let (mut sim_rates, mut bare_rates) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let s = drive(&client, &sim_urls, requests).await;
            let b = drive(&client, &bare_urls, requests).await;
            println!("round {round}: simulator {s:>8.0} req/s   bare actix-web {b:>8.0} req/s");
            sim_rates.push(s);
            bare_rates.push(b);
        }
        let (s, b) = (median(sim_rates), median(bare_rates));
        println!(
            "median of {rounds} rounds, {PORTS} ports x {requests} requests, \
             {PORTS} keep-alive loops: simulator {s:.0} req/s, bare actix-web {b:.0} req/s \
             ({:.0}% of bare)",
            100.0 * s / b
        );
        sim.stop().await;
    });
}
