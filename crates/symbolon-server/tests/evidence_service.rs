//! The service's evidence bundles without the binary (docs/transparency.md
//! §10): a key reserved by a station and then given up, its bundle gathered
//! by the service and checked by the core verifier against the CA root and
//! the log key; a key no one has seen is not found; a bundle of another
//! CA's log does not check.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use symbolon::access::Role;
use symbolon::ca::CaPolicy;
use symbolon::evidence::verify;
use symbolon::keys::{Fingerprint, RsaAlgorithm, RsaPrivateKey};
use symbolon_server::{CaService, DataDir, ServiceError};
use symbolon_store::{acting_as, Actor, Registry, StoreError};

async fn service(dir: &std::path::Path, name: &str) -> CaService {
    let data = DataDir::new(dir.join(name));
    data.init(
        "CN=evidence CA",
        RsaAlgorithm::Rsa2048.into(),
        CaPolicy::default(),
        None,
    )
    .unwrap();
    let registry = Registry::open(&data.database_url()).await.unwrap();
    CaService::new(data.open().unwrap(), registry).unwrap()
}

fn station() -> Actor {
    Actor {
        role: Role::Station,
        name: "station-1".parse().unwrap(),
        credential: "0a0b".parse().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_and_abandoned_key_has_a_bundle_that_checks_offline() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), "data").await;
    let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let pem = key.public_key().to_pem();
    let (id, fp) = acting_as(station(), s.reserve_public_key(pem.as_bytes()))
        .await
        .unwrap();
    let by = station();
    acting_as(
        station(),
        s.abandon(&id, "the token was lost before delivery", &by),
    )
    .await
    .unwrap();

    let bundle = s.evidence(&fp).await.unwrap();
    let kinds: Vec<&str> = bundle
        .entries
        .iter()
        .map(|e| e.entry.kind.as_str())
        .collect();
    assert_eq!(kinds, ["key-reserved", "reservation-abandoned"]);
    // The station's free-text reason entered the tree committed, and the
    // bundle opens it.
    let abandoned = &bundle.entries[1].entry;
    assert!(!abandoned.detail.contains("lost before delivery"));
    let root = s.chain().last().unwrap().clone();
    let report = verify(&bundle, &root, s.log_key()).unwrap();
    assert_eq!((report.key, report.entries), (fp, 2));
    assert!(report.certificates.is_empty());

    // The opening changed, or the entry: each named.
    let mut forged = bundle.clone();
    let o = forged.entries[1].entry.openings.as_mut().unwrap();
    o.get_mut("reason").unwrap().value = "\"nothing happened\"".into();
    let e = verify(&forged, &root, s.log_key()).unwrap_err();
    assert!(e.part.contains("(reservation-abandoned)"), "{e}");
    let mut forged = bundle.clone();
    forged.entries[0].entry.at += 1;
    let e = verify(&forged, &root, s.log_key()).unwrap_err();
    assert!(e.why.contains("does not match its hash"), "{e}");

    // Another CA's log key does not open this bundle's checkpoint.
    let other = service(dir.path(), "other").await;
    let e = verify(&bundle, &root, other.log_key()).unwrap_err();
    assert_eq!(e.part, "the checkpoint", "{e}");

    // A key no one has seen.
    let unknown: Fingerprint = format!("sha256:{}", "cd".repeat(32)).parse().unwrap();
    match s.evidence(&unknown).await {
        Err(ServiceError::Store(StoreError::NotFound(_))) => {}
        other => panic!("{other:?}"),
    }
}
