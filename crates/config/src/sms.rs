//! `[sms]`: the intakes of the SMS forwarder apps, and how a code finds its binding.
//!
//! Each app's intake (`POST /sms/<app>` of the admin API) is closed — 404 — until its section
//! is there: `[sms.capcom6] secret = "…"` (or `SIMROTOR_SMS__CAPCOM6__SECRET`), or
//! `[sms.gammu] enabled = true` for an app on a trusted LAN that proves nothing. The secret is
//! what the app signs with (SmsForwarder, capcom6, textbee, httpSMS), the SMSSync `secret`
//! field, or the URL/header token of the apps that can only add a static header. It never
//! prints (`config check` shows `****`).
//!
//! `[[sms.channels]]` declares which number sits behind a device's slot or port, for apps that
//! do not send the receiving number; `turns` says what happens when nothing identifies the SIM.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

pub use crate::masked::ForwarderSecret;
use simrotor_domain::Msisdn;
use simrotor_sms::App;

use crate::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Where neither the receiving number nor a declared channel tells which SIM an SMS came to,
    /// only one binding at a time waits for a code (the others' OTP requests queue, in order).
    /// Off: such an SMS matches nothing (right when every app sends the receiving number).
    pub turns: bool,
    /// After a turn ends without a code, how long an unidentified SMS is still taken as the
    /// late answer to it (and dropped) before the next binding's turn begins.
    #[serde(with = "humantime_serde")]
    pub late_quiet: Duration,
    /// An SMS received (by the app's clock) earlier than this before its binding began to wait
    /// is stale: an app's retry of an older SMS, never a fresh code.
    #[serde(with = "humantime_serde")]
    pub clock_skew: Duration,
    /// How many of the last SMS per intake `simrotor sms` shows.
    pub keep: usize,
    /// Which number sits behind a device's slot or port.
    pub channels: Vec<ChannelConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smsforwarder: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capcom6: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bogkonstantin: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gammu: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kannel: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smssync: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ejoin: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dinstar: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub httpsms: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub textbee: Option<IntakeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ibnux: Option<IntakeConfig>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            turns: true,
            late_quiet: Duration::from_secs(30),
            clock_skew: Duration::from_secs(120),
            keep: 20,
            channels: Vec::new(),
            smsforwarder: None,
            capcom6: None,
            bogkonstantin: None,
            gammu: None,
            kannel: None,
            smssync: None,
            ejoin: None,
            dinstar: None,
            httpsms: None,
            textbee: None,
            ibnux: None,
        }
    }
}

impl SmsConfig {
    /// The section of `app`, when the operator wrote one.
    pub fn intake(&self, app: App) -> Option<&IntakeConfig> {
        self.slot(app).as_ref()
    }

    /// Sets the section of `app` (the demo opens the intake it forwards to).
    pub fn set_intake(&mut self, app: App, intake: IntakeConfig) {
        *self.slot_mut(app) = Some(intake);
    }

    /// The apps whose intake is open.
    pub fn open_apps(&self) -> Vec<App> {
        App::ALL
            .into_iter()
            .filter(|app| self.intake(*app).is_some_and(IntakeConfig::is_open))
            .collect()
    }

    fn slot(&self, app: App) -> &Option<IntakeConfig> {
        match app {
            App::SmsForwarder => &self.smsforwarder,
            App::Capcom6 => &self.capcom6,
            App::Bogkonstantin => &self.bogkonstantin,
            App::Gammu => &self.gammu,
            App::Kannel => &self.kannel,
            App::Smssync => &self.smssync,
            App::Ejoin => &self.ejoin,
            App::Dinstar => &self.dinstar,
            App::Httpsms => &self.httpsms,
            App::Textbee => &self.textbee,
            App::Ibnux => &self.ibnux,
        }
    }

    fn slot_mut(&mut self, app: App) -> &mut Option<IntakeConfig> {
        match app {
            App::SmsForwarder => &mut self.smsforwarder,
            App::Capcom6 => &mut self.capcom6,
            App::Bogkonstantin => &mut self.bogkonstantin,
            App::Gammu => &mut self.gammu,
            App::Kannel => &mut self.kannel,
            App::Smssync => &mut self.smssync,
            App::Ejoin => &mut self.ejoin,
            App::Dinstar => &mut self.dinstar,
            App::Httpsms => &mut self.httpsms,
            App::Textbee => &mut self.textbee,
            App::Ibnux => &mut self.ibnux,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for app in App::ALL {
            let Some(intake) = self.intake(app) else {
                continue;
            };
            // An app that signs (or sends its secret) is never open without one: anyone who
            // reaches the admin API could post codes, and capcom6's reports write channels.
            if intake.secret.is_none() && app.auth() != simrotor_sms::AuthKind::Token {
                return Err(ConfigError::invalid(
                    format!("sms.{}.secret", app.name()),
                    "(none)",
                    &format!(
                        "{app} proves its requests with a secret: set the one the app uses (`enabled = true` without a secret is for the apps that cannot sign: bogkonstantin, gammu, kannel, ejoin, dinstar, ibnux)"
                    ),
                ));
            }
            if let Some(secret) = &intake.secret
                && secret.expose().trim().is_empty()
            {
                return Err(ConfigError::invalid(
                    format!("sms.{}.secret", app.name()),
                    "\"\"",
                    "an empty secret proves nothing: set one, or `enabled = true` without it",
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, channel) in self.channels.iter().enumerate() {
            if channel.device.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("sms.channels[{i}].device"),
                    "\"\"",
                    "name the device (capcom6 deviceId, SmsForwarder device mark, Dinstar sn, …)",
                ));
            }
            if !seen.insert((channel.device.clone(), channel.slot.clone())) {
                return Err(ConfigError::invalid(
                    format!("sms.channels[{i}]"),
                    format!(
                        "{}/{}",
                        channel.device,
                        channel.slot.as_deref().unwrap_or("")
                    ),
                    "this device and slot are declared twice",
                ));
            }
        }
        Ok(())
    }
}

/// One app's intake: open when the section exists, unless `enabled = false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// Open without a secret (`true`), or closed with the secret kept (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// What the app signs with, or its token. Printed as `****`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ForwarderSecret>,
}

impl IntakeConfig {
    pub fn with_secret(secret: impl Into<String>) -> Self {
        Self {
            enabled: None,
            secret: Some(ForwarderSecret::new(secret)),
        }
    }

    pub fn is_open(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// A device's slot or port and the number behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub device: String,
    /// The slot (`1`, `2`) or port (`1A`) as the app names it; none for a one-SIM modem.
    #[serde(
        default,
        deserialize_with = "slot_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub slot: Option<String>,
    pub number: Msisdn,
}

fn slot_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Raw>::deserialize(d)?.map(|raw| match raw {
        Raw::Text(t) => t.trim().to_owned(),
        Raw::Number(n) => n.to_string(),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};

    use super::*;
    use crate::Config;

    fn load(toml: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn an_intake_is_closed_until_its_section_is_there() {
        let config = load("").unwrap();
        assert!(config.sms.open_apps().is_empty());
        let config = load(
            "[sms.capcom6]\nsecret = \"s3cret-value\"\n[sms.gammu]\nenabled = true\n[sms.kannel]\nsecret = \"x\"\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(config.sms.open_apps(), vec![App::Capcom6, App::Gammu]);
        assert_eq!(
            config
                .sms
                .intake(App::Capcom6)
                .unwrap()
                .secret
                .as_ref()
                .unwrap()
                .expose(),
            "s3cret-value"
        );
        let printed = config.to_masked_toml();
        assert!(!printed.contains("s3cret-value"), "{printed}");
        assert!(printed.contains("[sms.capcom6]"), "{printed}");
        assert!(!format!("{config:?}").contains("s3cret-value"));
    }

    #[test]
    fn channels_are_read_and_checked() {
        let config = load(
            "[[sms.channels]]\ndevice = \"ffffffffceb0b1db\"\nslot = 1\nnumber = \"081200000001\"\n[[sms.channels]]\ndevice = \"gw-1\"\nslot = \"1A\"\nnumber = \"+6281200000002\"\n",
        )
        .unwrap();
        assert_eq!(config.sms.channels[0].slot.as_deref(), Some("1"));
        assert_eq!(config.sms.channels[1].number.as_str(), "6281200000002");
        let twice = load(
            "[[sms.channels]]\ndevice = \"d\"\nslot = 1\nnumber = \"081200000001\"\n[[sms.channels]]\ndevice = \"d\"\nslot = \"1\"\nnumber = \"081200000002\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(twice.contains("sms.channels[1]"), "{twice}");
        let bad = load("[[sms.channels]]\ndevice = \"d\"\nnumber = \"12\"\n")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("number"), "{bad}");
    }

    #[test]
    fn an_empty_secret_and_an_unknown_app_are_refused_by_key() {
        let empty = load("[sms.textbee]\nsecret = \" \"\n")
            .unwrap_err()
            .to_string();
        assert!(empty.contains("sms.textbee.secret"), "{empty}");
        let unknown = load("[sms.whatsapp]\nsecret = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("whatsapp"), "{unknown}");
        // The apps that sign (or send a secret) are never open without one.
        for app in ["smssync", "capcom6", "smsforwarder", "textbee", "httpsms"] {
            let open = load(&format!("[sms.{app}]\nenabled = true\n"))
                .unwrap_err()
                .to_string();
            assert!(open.contains(&format!("sms.{app}.secret")), "{open}");
        }
    }
}
