//! `simrotor otp SERVER CODE`: the operator's typed OTP, handed to the running runtime.

use std::process::ExitCode;

use serde_json::json;

use crate::admin_client::AdminClient;

pub async fn run(client: &AdminClient, server: u16, code: &str) -> anyhow::Result<ExitCode> {
    let delivered: serde_json::Value = client
        .post(
            "/api/otp",
            &json!({ "server": server, "code": code.trim() }),
        )
        .await?;
    let msisdn = delivered["msisdn"].as_str().unwrap_or("its number");
    let purpose = delivered["purpose"].as_str().unwrap_or("login");
    // Delivered is not accepted: the telco checks the code, and a wrong one makes the binding
    // ask for a fresh SMS, which `servers` then shows as waiting again.
    println!(
        "Delivered the {purpose} OTP to server {server} ({msisdn}); the server verifies it (a wrong code asks for a fresh one)."
    );
    Ok(ExitCode::SUCCESS)
}
