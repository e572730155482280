//! The declared SMS channels: declared, re-declared (a SIM moved), forgotten, read back typed.

use simrotor_domain::Msisdn;

use crate::helpers::{TestDb, both_databases};

both_databases!(a_channel_is_declared_replaced_and_forgotten);
async fn a_channel_is_declared_replaced_and_forgotten(db: TestDb) {
    let store = &db.store;
    assert!(store.sms_channels().await.unwrap().is_empty());
    let first = Msisdn::parse("081200000001").unwrap();
    let second = Msisdn::parse("081200000002").unwrap();
    store
        .declare_sms_channel("phone-a", Some("1"), &first, "operator")
        .await
        .unwrap();
    store
        .declare_sms_channel("modem-7", None, &second, "operator")
        .await
        .unwrap();
    // The SIM of slot 1 was swapped: the second declaration replaces the first.
    store
        .declare_sms_channel("phone-a", Some("1"), &second, "capcom6")
        .await
        .unwrap();
    let channels = store.sms_channels().await.unwrap();
    assert_eq!(channels.len(), 2, "{channels:?}");
    assert_eq!(channels[0].device, "modem-7");
    assert_eq!(channels[0].slot, None);
    assert_eq!(channels[1].device, "phone-a");
    assert_eq!(channels[1].slot.as_deref(), Some("1"));
    assert_eq!(channels[1].msisdn, second);
    assert_eq!(channels[1].source, "capcom6");

    assert!(
        store
            .forget_sms_channel("phone-a", Some("1"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .forget_sms_channel("phone-a", Some("1"))
            .await
            .unwrap()
    );
    assert!(store.forget_sms_channel("modem-7", None).await.unwrap());
    assert!(store.sms_channels().await.unwrap().is_empty());
}
