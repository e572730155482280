//! `simrotor probe`: one call against one server, exactly once, printing the raw answer and
//! what the parser made of it — the operator's tool for capturing a real answer as a fixture.
//! Secrets (tokens, OTPs, PINs) are masked on screen unless `--show-secrets`; a purchase
//! (`trx_idv`) spends pulsa, so it needs `--really-buy`.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use simrotor_config::Config;
use simrotor_domain::Msisdn;
use simrotor_slot::{Call, HttpOptions, HttpSlotClient, describe, mask_secrets};

use crate::cli::ProbeArgs;
use crate::commands::answers::calls_named;

pub async fn run(config: &Config, args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let Some(call) = Call::from_name(&args.call) else {
        bail!("{:?} is not a slot call; {}", args.call, calls_named());
    };
    let msisdn =
        Msisdn::parse(&args.msisdn).with_context(|| format!("--msisdn {}", args.msisdn))?;
    let specs = config.server_specs()?;
    let Some(spec) = specs.iter().find(|s| s.port == args.port) else {
        let ports: Vec<String> = specs.iter().map(|s| s.port.to_string()).collect();
        bail!(
            "port {} is not a configured server (servers.ports: {})",
            args.port,
            ports.join(", ")
        );
    };
    let username = msisdn.local();
    let mut query: Vec<(&str, String)> = vec![("username", username)];
    let need = |value: &Option<String>, flag: &str| {
        value
            .clone()
            .with_context(|| format!("{} needs {flag}", call.path()))
    };
    match call {
        Call::RequestOtp => query.push(("pin", need(&args.pin, "--pin")?)),
        Call::VerifyOtp | Call::TransactionOtp => query.push(("otp", need(&args.otp, "--otp")?)),
        Call::Buy => {
            if !args.really_buy {
                bail!(
                    "/trx_idv buys a voucher with the number's pulsa; add --really-buy to send it"
                );
            }
            query.push(("product_id", need(&args.product, "--product")?));
            query.push(("email", need(&args.email, "--email")?));
            let limit = args
                .limit_harga
                .unwrap_or(config.products.limit_harga.get());
            query.push(("limit_harga", limit.to_string()));
        }
        Call::TrxStatus => query.push(("trx_id", need(&args.trx_id, "--trx-id")?)),
        Call::Balance | Call::TokenLocation | Call::ListProducts | Call::Logout => {}
    }
    let client = HttpSlotClient::with_options(HttpOptions::from_spec(spec))
        .context("cannot build the HTTP client")?;
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let probed = client
        .probe(call, &pairs)
        .await
        .with_context(|| format!("{} on {} did not answer", call.path(), spec.base_url()))?;
    let body = String::from_utf8_lossy(&probed.body);
    let shown = if args.show_secrets {
        body.into_owned()
    } else {
        mask_secrets(call, &body)
    };
    println!(
        "{} {} → HTTP {}, {} bytes (request {})",
        spec.base_url(),
        call.path(),
        probed.http_status,
        probed.body.len(),
        probed.request_id
    );
    println!("{shown}");
    println!("meaning: {}", describe(&probed.meaning, args.show_secrets));
    // Read (a value or a refusal): 0. Unusable: the shape is new, keep it as a fixture.
    Ok(match &probed.meaning {
        Err(e) if !matches!(e.kind, simrotor_slot::SlotErrorKind::Refused { .. }) => {
            ExitCode::from(2)
        }
        _ => ExitCode::SUCCESS,
    })
}
