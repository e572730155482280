//! `simrotor otp SERVER CODE`: the operator's typed OTP, handed to the running runtime.

use std::process::ExitCode;

use anyhow::Context as _;

pub async fn run(server: u16, code: &str, control: &str) -> anyhow::Result<ExitCode> {
    let url = format!("http://{control}/otp");
    let answer = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({ "server": server, "code": code.trim() }))
        .send()
        .await
        .with_context(|| {
            format!("no runtime answers at {control} (is `simrotor run` running? see --control)")
        })?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        println!("Delivered the OTP to server {server}.");
        Ok(ExitCode::SUCCESS)
    } else {
        let why = body
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("refused");
        eprintln!("error: {why}");
        Ok(ExitCode::FAILURE)
    }
}
