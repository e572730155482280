//! One session per server, against a simulator whose servers refuse a second number's login
//! while the first one's session is open (`one_session`, as the real servers may): a number
//! whose logout could not be read is logged out before the next number logs in, and a login
//! refused because the server is in use logs the holder out and tries once more.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use simrotor_domain::{AccountState, Email, Msisdn, Pin, Rupiah};
use simrotor_persistence::{AnswerFilter, AnswerKind};
use simrotor_slot::{
    Ack, Balance, Call, HttpOptions, HttpSlotClient, LocationToken, LoginToken, Otp,
    ProductListing, ProtocolProblem, RawBody, Reply, SlotClient, SlotError, SlotResult,
    TrxAccepted, TrxProgress,
};

use crate::scenario_helpers::{
    Setup, World, accounts, assert_all_settled, free_port, ledger_problems, numbers_where,
    sim_config,
};

/// The real client, but the first `fail_logouts` logouts of `holder` come back unreadable (a
/// body with a token in it, which must be kept masked); every call is written down.
#[derive(Debug)]
struct LosesLogouts {
    inner: HttpSlotClient,
    holder: Msisdn,
    fail_logouts: Mutex<u32>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl LosesLogouts {
    fn note<T>(&self, call: Call, msisdn: &Msisdn, res: &SlotResult<T>) {
        let outcome = match res {
            Ok(_) => "ok".to_owned(),
            Err(e) => match e.refusal_reason() {
                Some(reason) => format!("refused: {reason}"),
                None => "unusable".to_owned(),
            },
        };
        self.calls
            .lock()
            .unwrap()
            .push(format!("{} {} {outcome}", call.name(), msisdn.local()));
    }
}

#[async_trait]
impl SlotClient for LosesLogouts {
    async fn request_otp(&self, m: &Msisdn, pin: &Pin) -> SlotResult<Reply<Ack>> {
        let res = self.inner.request_otp(m, pin).await;
        self.note(Call::RequestOtp, m, &res);
        res
    }
    async fn verify_otp(&self, m: &Msisdn, otp: &Otp) -> SlotResult<Reply<LoginToken>> {
        self.inner.verify_otp(m, otp).await
    }
    async fn balance(&self, m: &Msisdn) -> SlotResult<Reply<Balance>> {
        self.inner.balance(m).await
    }
    async fn location_token(&self, m: &Msisdn) -> SlotResult<Reply<LocationToken>> {
        self.inner.location_token(m).await
    }
    async fn list_products(&self, m: &Msisdn) -> SlotResult<Reply<ProductListing>> {
        self.inner.list_products(m).await
    }
    async fn buy(
        &self,
        m: &Msisdn,
        product: &str,
        email: &Email,
        limit: Rupiah,
    ) -> SlotResult<Reply<TrxAccepted>> {
        self.inner.buy(m, product, email, limit).await
    }
    async fn transaction_otp(&self, m: &Msisdn, otp: &Otp) -> SlotResult<Reply<Ack>> {
        self.inner.transaction_otp(m, otp).await
    }
    async fn trx_status(&self, m: &Msisdn, trx: &str) -> SlotResult<Reply<TrxProgress>> {
        self.inner.trx_status(m, trx).await
    }
    async fn logout(&self, m: &Msisdn) -> SlotResult<Reply<Ack>> {
        let lose = {
            let mut left = self.fail_logouts.lock().unwrap();
            let lose = *m == self.holder && *left > 0;
            if lose {
                *left -= 1;
            }
            lose
        };
        let res = if lose {
            Err(
                SlotError::protocol(Call::Logout, ProtocolProblem::Truncated).with_raw(Some(
                    RawBody::new(r#"{"res":{"status":"0","token":"eyJhbGciOiJIUzUxMiJ9.e30.leak"#),
                )),
            )
        } else {
            self.inner.logout(m).await
        };
        self.note(Call::Logout, m, &res);
        res
    }
}

/// Runs two numbers, `a` then `b`, on one server whose client loses `a`'s first
/// `lost_logouts` logouts; the calls as the double saw them.
async fn two_numbers_one_server(lost_logouts: u32) -> (Vec<String>, Msisdn, Msisdn) {
    let sim = sim_config(15_000);
    assert!(
        sim.one_session,
        "the simulator refuses a second login by default"
    );
    let numbers = numbers_where(&sim, 7_000, 2, |p| p.reseller && !p.blocked);
    let (a, b) = (numbers[0].clone(), numbers[1].clone());
    let port = free_port();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let double = LosesLogouts {
        inner: HttpSlotClient::with_options(HttpOptions::new(format!("http://127.0.0.1:{port}")))
            .unwrap(),
        holder: a.clone(),
        fail_logouts: Mutex::new(lost_logouts),
        calls: calls.clone(),
    };
    let mut setup = Setup::new(sim, 1, numbers.clone());
    setup.ports = Some(vec![port]);
    setup.double = Some((0, Arc::new(double)));
    let mut world = World::start(setup).await;
    world.finished().await;
    let row = world.server_row(port).await;
    assert_eq!(row.session_msisdn, None, "the last number was logged out");

    let (store, ledger, sim, _dir) = world.stop().await;
    for account in accounts(&store).await {
        assert_eq!(account.status, AccountState::Done, "{account:?}");
    }
    for m in [&a, &b] {
        assert_eq!(sim.pulsa(m), Rupiah::new(0), "{m} bought its pulsa up");
    }
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;

    // The unreadable logouts are kept with their binding, the token in them masked.
    let kept = store
        .unusable_answers(&AnswerFilter::default())
        .await
        .unwrap();
    let logouts: Vec<_> = kept.iter().filter(|k| k.call == "logout").collect();
    assert_eq!(logouts.len(), lost_logouts as usize, "{kept:?}");
    for k in logouts {
        assert_eq!((k.kind, k.port), (AnswerKind::Unusable, Some(port)));
        assert!(k.binding_id.is_some());
        let body = k.body.as_deref().unwrap();
        assert!(!body.contains("eyJ") && !body.contains("leak"), "{body}");
        assert!(body.contains("****"), "{body}");
    }
    sim.stop().await;
    let calls = calls.lock().unwrap().clone();
    (calls, a, b)
}

/// The first number's logout is lost: the server is marked as maybe holding it, and the next
/// number's binding logs it out before its own `/otp` — the server never refuses.
#[actix_rt::test]
async fn a_number_whose_logout_was_lost_is_logged_out_before_the_next_logs_in() {
    let (calls, a, b) = two_numbers_one_server(1).await;
    let (a, b) = (a.local(), b.local());
    assert_eq!(
        calls,
        [
            format!("otp {a} ok"),
            format!("logout {a} unusable"),
            format!("logout {a} ok"),
            format!("otp {b} ok"),
            format!("logout {b} ok"),
        ]
    );
}

/// The first number's logout is lost twice (its own, and the one before the next login): the
/// server refuses the next number's login as in use, the holder is logged out, and the login
/// is asked once more.
#[actix_rt::test]
async fn a_login_refused_as_server_in_use_logs_the_holder_out_and_tries_again() {
    let (calls, a, b) = two_numbers_one_server(2).await;
    let (a, b) = (a.local(), b.local());
    assert_eq!(
        calls,
        [
            format!("otp {a} ok"),
            format!("logout {a} unusable"),
            format!("logout {a} unusable"),
            format!("otp {b} refused: server in use by another number"),
            format!("logout {a} ok"),
            format!("otp {b} ok"),
            format!("logout {b} ok"),
        ]
    );
}
