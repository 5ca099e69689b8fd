//! The copyright owner's station (`symbolon_server::owner`) without the
//! binary (FIG. 23): a station is created once; it provisions a decryption
//! key into a token that trusts it, keeping only the public half and an
//! audit entry; a token that does not trust it, a slot provisioned before
//! and content sealed to another key are refused with nothing kept. The
//! licence path end to end (orders signed under the CA) is in
//! `symbolon-cli/tests/content_cli.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use symbolon::ca::CaPolicy;
use symbolon::keys::RsaAlgorithm;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon::Code;
use symbolon_server::owner::OwnerStation;
use symbolon_server::DataDir;
use symbolon_store::Registry;

fn ca_root(dir: &std::path::Path) -> Vec<u8> {
    let data = DataDir::new(dir.join("ca"));
    data.init(
        "CN=owner test CA",
        RsaAlgorithm::Rsa2048.into(),
        CaPolicy::default(),
        None,
    )
    .unwrap();
    symbolon_server::read_chain(&data.chain_path())
        .unwrap()
        .pop()
        .unwrap()
}

fn token() -> SoftToken<MemoryStore> {
    SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_provisions_once_into_tokens_that_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca_root(dir.path());
    let owner = dir.path().join("owner");
    let created = OwnerStation::init(&owner, &root, None).await.unwrap();
    // Once only.
    let again = OwnerStation::init(&owner, &root, None).await.unwrap_err();
    assert_eq!(again.code(), Code::InvalidInput, "{again}");

    let station = OwnerStation::open(&owner).await.unwrap();
    let identity = station.identity().unwrap();
    assert_eq!(identity.public_key().fingerprint(), created.identity);
    assert_eq!(
        station.catalogue_key().unwrap().fingerprint(),
        created.catalogue_key
    );

    // A token that does not trust the owner: refused, nothing recorded.
    let slot = SlotName::new("content").unwrap();
    let mut stranger = token();
    let e = station
        .provision(&mut stranger, &slot, RsaAlgorithm::Rsa2048)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::UntrustedIssuer, "{e}");
    assert!(e.hint().unwrap().contains("trust-issuer"));
    let serial = stranger.info().unwrap().serial;
    assert_eq!(
        station.provisioned_key(&serial, &slot).unwrap_err().code(),
        Code::NotFound
    );
    assert!(stranger.info().unwrap().slots.is_empty());

    // A token that trusts it gets a key; only the public half stays here.
    let mut user = token();
    user.trust_issuer(identity.public_key()).unwrap();
    let public = station
        .provision(&mut user, &slot, RsaAlgorithm::Rsa2048)
        .await
        .unwrap();
    let serial = user.info().unwrap().serial;
    assert_eq!(user.public_key(&slot).unwrap(), public);
    assert_eq!(station.provisioned_key(&serial, &slot).unwrap(), public);
    // The same slot again: refused, the token keeps the first key.
    let e = station
        .provision(&mut user, &slot, RsaAlgorithm::Rsa2048)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::SlotOccupied, "{e}");
    assert_eq!(user.public_key(&slot).unwrap(), public);
    station.close().await;

    // The ledger holds the station's creation and the one provisioning.
    let ledger = Registry::open(&format!("sqlite://{}", owner.join("owner.db").display()))
        .await
        .unwrap();
    let kinds: Vec<String> = ledger
        .audit_entries(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|a| a.kind.to_string())
        .collect();
    assert_eq!(kinds, ["owner-initialised", "decryption-key-provisioned"]);
    ledger.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_without_a_station_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let e = OwnerStation::open(dir.path()).await.err().unwrap();
    assert_eq!(e.code(), Code::Io);
    assert!(e.hint().unwrap().contains("content owner init"), "{e}");
}
