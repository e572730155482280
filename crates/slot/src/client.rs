//! The slot API as a trait, so that the runtime holds an `Arc<dyn SlotClient>` and does not care
//! whether behind it is the HTTP client, the simulator or a test double.

use async_trait::async_trait;
use simrotor_domain::{Email, Msisdn, Pin, Rupiah};

use crate::error::SlotResult;
use crate::secret::{Otp, TokenLocation, TokenLogin};
use crate::types::{Ack, Balance, ProductListing, Reply, TrxAccepted, TrxProgress};

/// One method per call of the contract. Every success carries its raw answer; every failure is
/// a [`crate::SlotError`].
///
/// The server keeps the session: once logged in, calls name the number only, never the token.
#[async_trait]
pub trait SlotClient: Send + Sync {
    /// `/otp`: ask for the login OTP, which the telco sends by SMS.
    async fn request_otp(&self, msisdn: &Msisdn, pin: &Pin) -> SlotResult<Reply<Ack>>;

    /// `/verifyOtp`: trade the login OTP for `token_login`.
    async fn verify_otp(&self, msisdn: &Msisdn, otp: &Otp) -> SlotResult<Reply<TokenLogin>>;

    /// `/balance_pulsa`.
    async fn balance(&self, msisdn: &Msisdn) -> SlotResult<Reply<Balance>>;

    /// `/token_location3`.
    async fn token_location(&self, msisdn: &Msisdn) -> SlotResult<Reply<TokenLocation>>;

    /// `/list_idv`: the products, or [`ProductListing::NotReseller`] — an outcome, not an error.
    async fn list_products(&self, msisdn: &Msisdn) -> SlotResult<Reply<ProductListing>>;

    /// `/trx_idv`: buy `product_id` for at most `limit_harga`, the voucher going to `email`.
    ///
    /// Never repeated by the client. An error for which
    /// [`SlotError::may_have_taken_effect`](crate::SlotError::may_have_taken_effect) is true
    /// (notably [`SlotErrorKind::OutcomeUnknown`](crate::SlotErrorKind::OutcomeUnknown)) means
    /// the voucher may have been bought: reconcile, never resend blindly.
    async fn buy(
        &self,
        msisdn: &Msisdn,
        product_id: &str,
        email: &Email,
        limit_harga: Rupiah,
    ) -> SlotResult<Reply<TrxAccepted>>;

    /// `/otp_idv`: the OTP of the first transaction on a device the number has not used.
    async fn transaction_otp(&self, msisdn: &Msisdn, otp: &Otp) -> SlotResult<Reply<Ack>>;

    /// `/status_idv`.
    async fn trx_status(&self, msisdn: &Msisdn, trx_id: &str) -> SlotResult<Reply<TrxProgress>>;

    /// `/logout`.
    async fn logout(&self, msisdn: &Msisdn) -> SlotResult<Reply<Ack>>;
}
