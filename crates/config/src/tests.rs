//! Layering, env overrides and the error messages, in `figment::Jail`s so no test sees another's
//! files or environment.

use std::time::Duration;

use figment::Jail;

use super::*;

fn load_in_jail(check: impl FnOnce(Result<Config, ConfigError>) + 'static) {
    Jail::expect_with(|_jail| {
        check(load(None));
        Ok(())
    });
}

#[test]
fn defaults_alone_are_valid_and_give_twenty_servers() {
    load_in_jail(|cfg| {
        let cfg = cfg.unwrap();
        let specs = cfg.server_specs().unwrap();
        assert_eq!(specs.len(), 20);
        assert_eq!(specs[0].base_url(), "http://127.0.0.1:9900");
        assert_eq!(specs[19].port, 9919);
        assert_eq!(cfg.database.synchronous, Synchronous::Full);
        assert!(!cfg.otp.transaction_otp);
    });
}

#[test]
fn the_shipped_config_toml_is_valid_and_equals_the_defaults() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config.toml");
    let cfg = load(Some(std::path::Path::new(shipped))).unwrap();
    assert_eq!(cfg, Config::default());
}

#[test]
fn file_then_env_override_in_that_order() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "config.toml",
            r#"
            [servers]
            ports = [9000, 9001, 9002]
            timeout = "2s 500ms"
            [servers.overrides.9001]
            enabled = false
            pacing = "100ms"
            [database]
            url = "sqlite://file.db"
            "#,
        )?;
        jail.set_env("SIMROTOR_DATABASE__URL", "postgres://u:secret@h/db");
        jail.set_env("SIMROTOR_SERVERS__OVERRIDES__9002__RETRIES", "7");
        jail.set_env("SIMROTOR_TEST_POSTGRES_URL", "postgres://ignored");
        jail.set_env("SIMROTOR_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let cfg = load(None).unwrap();
        assert_eq!(cfg.database.url.expose(), "postgres://u:secret@h/db");
        let specs = cfg.server_specs().unwrap();
        assert_eq!(
            specs.iter().map(|s| s.port).collect::<Vec<_>>(),
            [9000, 9001, 9002]
        );
        assert_eq!(specs[0].timeout, Duration::from_millis(2500));
        assert!(!specs[1].enabled);
        assert_eq!(specs[1].pacing, Duration::from_millis(100));
        assert_eq!(specs[2].retries, 7);
        assert!(specs[2].enabled);
        Ok(())
    });
}

fn error_for(toml: &str, env: &[(&str, &str)]) -> String {
    let toml = toml.to_owned();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut out = String::new();
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", &toml)?;
        for (k, v) in &env {
            jail.set_env(k, v);
        }
        out = load(None).expect_err("must be refused").to_string();
        Ok(())
    });
    out
}

#[test]
fn an_unknown_key_is_named() {
    let err = error_for("[servers]\ntimout = \"5s\"\n", &[]);
    assert!(err.contains("timout"), "{err}");
    let err = error_for("", &[("SIMROTOR_DATABSE__URL", "x")]).to_lowercase();
    assert!(err.contains("databse"), "{err}");
}

#[test]
fn the_old_single_otp_pattern_is_an_unknown_key() {
    let err = error_for("[otp]\npattern = '\\b(\\d{4,8})\\b'\n", &[]);
    assert!(err.contains("pattern"), "{err}");
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn otp_patterns_are_a_list_tried_in_order_from_the_file_or_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "config.toml",
            "[otp]\npatterns = ['(?i)sandi\\W+(\\d{6})', '\\b(\\d{4,8})\\b']\n",
        )?;
        let cfg = load(None).unwrap();
        assert_eq!(cfg.otp.patterns, [r"(?i)sandi\W+(\d{6})", r"\b(\d{4,8})\b"]);
        jail.set_env("SIMROTOR_OTP__PATTERNS", r#"["kode (\\d{4})"]"#);
        let cfg = load(None).unwrap();
        assert_eq!(cfg.otp.patterns, [r"kode (\d{4})"]);
        Ok(())
    });
    load_in_jail(|cfg| {
        let cfg = cfg.unwrap();
        assert_eq!(cfg.otp.patterns, simrotor_sms::code::DEFAULT_PATTERNS);
    });
}

#[test]
fn a_bad_duration_names_the_key_and_the_value() {
    let err = error_for("[otp]\ntimeout = \"30\"\n", &[]);
    assert!(err.contains("otp.timeout") && err.contains("30"), "{err}");
    let err = error_for("", &[("SIMROTOR_RESTART__WINDOW", "ten minutes")]).to_lowercase();
    assert!(
        err.contains("restart.window") && err.contains("ten minutes"),
        "{err}"
    );
    assert!(err.contains("environment"), "{err}");
}

#[test]
fn impossible_values_name_the_key_and_the_value() {
    let cases = [
        ("[servers]\nports = [9900, 0]\n", "servers.ports = 0"),
        (
            "[servers]\nports = \"9919-9900\"\n",
            "servers.ports = \"9919-9900\"",
        ),
        ("[servers]\nports = \"99xx\"\n", "servers.ports = \"99xx\""),
        ("[servers]\nports = [9900, 9900]\n", "servers.ports = 9900"),
        (
            "[restart]\nbackoff_min = \"2m\"\nbackoff_max = \"1m\"\n",
            "restart.backoff_min = 2m",
        ),
        (
            "[products]\nstatus_poll_min = \"20s\"\nstatus_poll_max = \"1s\"\n",
            "products.status_poll_min = 20s",
        ),
        ("[products]\nwanted = []\n", "products.wanted = []"),
        (
            "[ownership]\nheartbeat = \"5s\"\nexpiry = \"8s\"\n",
            "ownership.expiry = 8s",
        ),
        (
            "[ownership]\nheartbeat = \"0s\"\n",
            "ownership.heartbeat = 0s",
        ),
        (
            "[simulator]\nsms_forwarder_also = [\"ftp://x\"]\n",
            "simulator.sms_forwarder_also = \"ftp://x\"",
        ),
        ("[products]\nlimit_harga = 0\n", "products.limit_harga = 0"),
        (
            "[servers.overrides.1234]\nenabled = false\n",
            "servers.overrides.1234 = 1234",
        ),
        (
            "[otp]\npatterns = ['\\b(\\d{4,8})\\b', '\\d+']\n",
            "otp.patterns[1] = \"\\\\d+\": needs a capturing group",
        ),
        (
            "[otp]\npatterns = ['(\\d{4']\n",
            "otp.patterns[0] = \"(\\\\d{4\": regex parse error",
        ),
        ("[otp]\npatterns = []\n", "otp.patterns = []"),
        (
            "[database]\nurl = \"mysql://x\"\n",
            "database.url = mysql://x",
        ),
        (
            "[database]\nmax_connections = 0\n",
            "database.max_connections = 0",
        ),
    ];
    for (toml, want) in cases {
        let err = error_for(toml, &[]);
        assert!(err.contains(want), "{toml:?}: {err}");
    }
}

#[test]
fn a_port_out_of_range_is_refused_by_type() {
    let err = error_for("[servers]\nports = [70000]\n", &[]);
    assert!(err.contains("servers.ports"), "{err}");
}

#[test]
fn a_bad_pin_names_the_key_but_not_the_pin() {
    let err = error_for("[login]\ndefault_pin = \"12x456\"\n", &[]);
    assert!(err.contains("login.default_pin"), "{err}");
    assert!(!err.contains("12x456"), "{err}");
}

#[test]
fn an_explicit_file_must_exist() {
    let err = load(Some(std::path::Path::new("/nonexistent/simrotor.toml"))).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/simrotor.toml"),
        "{err}"
    );
}

#[test]
fn config_check_masks_secrets() {
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", "[login]\ndefault_pin = \"246810\"\n")?;
        jail.set_env("SIMROTOR_DATABASE__URL", "postgres://u:hunter2@h/db");
        let shown = load(None).unwrap().to_masked_toml();
        assert!(!shown.contains("246810"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("default_pin = \"****\""), "{shown}");
        assert!(shown.contains("postgres://u:****@h/db"), "{shown}");
        assert!(shown.contains("timeout = \"5m\""), "{shown}");
        Ok(())
    });
}

#[test]
fn an_admin_api_beyond_loopback_needs_a_token_and_the_token_never_prints() {
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", "[admin]\nlisten = \"0.0.0.0:9800\"\n")?;
        let err = load(None).unwrap_err().to_string();
        assert!(err.contains("admin.listen"), "{err}");
        assert!(err.contains("admin.token"), "{err}");

        jail.set_env("SIMROTOR_ADMIN__TOKEN", "short");
        let err = load(None).unwrap_err().to_string();
        assert!(err.contains("at least 16 characters"), "{err}");
        assert!(!err.contains("short\""), "{err}");

        jail.set_env("SIMROTOR_ADMIN__TOKEN", "1234567890123");
        let err = load(None).unwrap_err().to_string();
        assert!(
            !err.contains("1234567890123"),
            "an all-digit token was echoed: {err}"
        );
        jail.set_env("SIMROTOR_ADMIN__TOKEN", "98765432109876543210");
        assert_eq!(
            load(None).unwrap().admin.token.unwrap().expose(),
            "98765432109876543210"
        );

        jail.set_env("SIMROTOR_ADMIN__TOKEN", "a-long-random-admin-token-42");
        let cfg = load(None).unwrap();
        let token = cfg.admin.token.as_ref().unwrap();
        assert_eq!(token.expose(), "a-long-random-admin-token-42");
        assert!(!format!("{cfg:?}").contains("a-long-random"));
        let shown = serde_json::to_string(&cfg).unwrap();
        assert!(!shown.contains("a-long-random"), "{shown}");

        jail.create_file("config.toml", "[admin]\nlisten = \"localhost\"\n")?;
        let err = load(None).unwrap_err().to_string();
        assert!(
            err.contains("admin.listen") && err.contains("IP:PORT"),
            "{err}"
        );
        Ok(())
    });
}
