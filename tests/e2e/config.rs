//! `simrotor config check` and start-up refusals, as the operator sees them.

use crate::helpers::{Scratch, assert_has};

#[test]
fn check_prints_the_effective_config_with_secrets_masked() {
    let s = Scratch::new();
    s.write(
        "config.toml",
        "[database]\nurl = \"sqlite://data/t.db\"\n[login]\ndefault_pin = \"135790\"\n[servers.overrides.9905]\nenabled = false\n",
    );
    let run = s
        .run_env(
            &["config", "check"],
            &[("SIMROTOR_SERVERS__TIMEOUT", "45s")],
        )
        .ok();
    assert_has(&run.stdout, "timeout = \"45s\"");
    assert_has(&run.stdout, "default_pin = \"****\"");
    assert!(!run.stdout.contains("135790"));
    assert!(
        run.stderr
            .contains("configuration OK: 20 servers (19 enabled)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_key_stops_every_verb_and_is_named() {
    let s = Scratch::new();
    s.write("config.toml", "[servers]\nport = 9900\n");
    for verb in [&["config", "check"][..], &["recap"][..], &["migrate"][..]] {
        let run = s.run(verb);
        assert_eq!(run.code, 1, "{verb:?}");
        assert!(run.stderr.contains("port"), "{verb:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("config.toml"),
            "{verb:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn an_explicit_config_path_must_exist() {
    let s = Scratch::new();
    let run = s.run(&["--config", "elsewhere.toml", "config", "check"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "elsewhere.toml does not exist");
}

#[test]
fn a_bad_env_override_names_the_key_and_value() {
    let s = Scratch::new();
    let run = s.run_env(&["config", "check"], &[("SIMROTOR_OTP__TIMEOUT", "300")]);
    assert_eq!(run.code, 1);
    let err = run.stderr.to_lowercase();
    assert!(
        err.contains("otp.timeout") && err.contains("300"),
        "{}",
        run.stderr
    );
}
