//! The registry's invariants, on real SQLite files, with several pools on one
//! file standing in for several processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use symbolon::keys::{Fingerprint, RsaAlgorithm, RsaPrivateKey};
use symbolon::token::TokenSerial;
use symbolon_store::{
    AuditKind, CertificateRecord, CertificateSerial, KeyState, Registry, StoreError,
};

fn key() -> (Fingerprint, Vec<u8>) {
    // Any bytes do for the registry; a real SPKI keeps the test honest.
    let k = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    (
        k.public_key().fingerprint(),
        k.public_key().spki_der().to_vec(),
    )
}

async fn open(dir: &tempfile::TempDir) -> Registry {
    Registry::open_sqlite(&dir.path().join("registry.db"))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_is_registered_once_ever() {
    let d = tempfile::tempdir().unwrap();
    let r = open(&d).await;
    let (fp, spki) = key();
    let res = r.reserve_key(fp, &spki).await.unwrap();
    assert_eq!(r.key(&fp).await.unwrap().state, KeyState::Reserved);
    assert!(matches!(
        r.reserve_key(fp, &spki).await,
        Err(StoreError::DuplicateKey(_))
    ));
    assert!(matches!(
        r.certify_key(fp, &spki, None).await,
        Err(StoreError::DuplicateKey(_))
    ));
    r.certify_key(fp, &spki, Some(&res)).await.unwrap();
    assert_eq!(r.key(&fp).await.unwrap().state, KeyState::Certified);
    assert!(matches!(
        r.certify_key(fp, &spki, Some(&res)).await,
        Err(StoreError::DuplicateKey(_))
    ));

    // An abandoned reservation can never be certified.
    let (fp2, spki2) = key();
    let res2 = r.reserve_key(fp2, &spki2).await.unwrap();
    assert_eq!(r.abandon_reservation(&res2, "test").await.unwrap(), fp2);
    assert!(matches!(
        r.certify_key(fp2, &spki2, Some(&res2)).await,
        Err(StoreError::DuplicateKey(_))
    ));
    assert!(matches!(
        r.abandon_reservation(&res2, "test").await,
        Err(StoreError::ReservationClosed(_))
    ));
    assert_eq!(r.key(&fp2).await.unwrap().state, KeyState::Abandoned);

    // Direct certification of a fresh key, once.
    let (fp3, spki3) = key();
    r.certify_key(fp3, &spki3, None).await.unwrap();
    assert!(matches!(
        r.certify_key(fp3, &spki3, None).await,
        Err(StoreError::DuplicateKey(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_processes_certify_a_key_exactly_once() {
    let d = tempfile::tempdir().unwrap();
    let pools = [open(&d).await, open(&d).await, open(&d).await];
    for _ in 0..5 {
        let (fp, spki) = key();
        let mut tasks = Vec::new();
        for i in 0..30 {
            let r = pools[i % 3].clone();
            let spki = spki.clone();
            tasks.push(tokio::spawn(
                async move { r.certify_key(fp, &spki, None).await },
            ));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => won += 1,
                Err(StoreError::DuplicateKey(_)) => {}
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        assert_eq!(won, 1, "exactly one certification per key");
    }
}

#[tokio::test]
async fn certificates_and_tokens_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let r = open(&d).await;
    let (fp, spki) = key();
    let token = TokenSerial::random().unwrap();
    let rec = CertificateRecord {
        serial: "0a1b2c3d4e5f6071".parse().unwrap(),
        fingerprint: fp,
        subject: "CN=Alice".into(),
        profile: "client".into(),
        not_before: 1,
        not_after: 2,
        der: vec![0x30, 0x00],
        generated_on_token: Some(token),
        issued_at: 3,
    };
    assert!(r.key_available(&fp, None).await.unwrap());
    r.record_issuance(&rec, &spki, None, &json!({}))
        .await
        .unwrap();
    assert!(!r.key_available(&fp, None).await.unwrap());
    assert_eq!(
        r.audit_entries(0, 10).await.unwrap()[0].kind,
        "certificate-issued"
    );
    assert_eq!(r.certificate(&rec.serial).await.unwrap(), rec);
    assert_eq!(r.certificates_for_key(&fp).await.unwrap(), 1);
    // The same key again: refused, and nothing of it is written.
    let mut again = rec.clone();
    again.serial = "0b".parse().unwrap();
    assert!(matches!(
        r.record_issuance(&again, &spki, None, &json!({})).await,
        Err(StoreError::DuplicateKey(_))
    ));
    assert!(matches!(
        r.certificate(&again.serial).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(r.audit_entries(0, 10).await.unwrap().len(), 1);
    let missing: CertificateSerial = "ff".parse().unwrap();
    assert!(matches!(
        r.certificate(&missing).await,
        Err(StoreError::NotFound(_))
    ));
    r.register_token(token, b"device key spki").await.unwrap();
    assert_eq!(
        r.token(&token).await.unwrap().device_key,
        b"device key spki"
    );
    assert!(matches!(
        r.register_token(TokenSerial::random().unwrap(), b"device key spki")
            .await,
        Err(StoreError::DuplicateKey(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_make_one_chain() {
    let d = tempfile::tempdir().unwrap();
    let pools = [open(&d).await, open(&d).await, open(&d).await];
    let mut tasks = Vec::new();
    for i in 0..90 {
        let r = pools[i % 3].clone();
        tasks.push(tokio::spawn(async move {
            r.append_audit(AuditKind::KeyReserved, &json!({ "i": i }))
                .await
        }));
    }
    let mut seqs: Vec<i64> = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=90).collect::<Vec<_>>());
    let v = pools[0].verify_audit().await.unwrap().unwrap();
    assert_eq!(v.entries, 90);
}

async fn chain_of(n: usize) -> (tempfile::TempDir, Registry) {
    let d = tempfile::tempdir().unwrap();
    let r = open(&d).await;
    for i in 0..n {
        r.append_audit(AuditKind::CertificateIssued, &json!({ "n": i }))
            .await
            .unwrap();
    }
    assert!(r.verify_audit().await.unwrap().is_ok());
    (d, r)
}

#[tokio::test]
async fn audit_verify_names_the_first_broken_link() {
    // Edited.
    let (_d, r) = chain_of(6).await;
    sqlx::query("UPDATE audit_log SET detail = '{\"n\":99}' WHERE seq = 3")
        .execute(r.pool())
        .await
        .unwrap();
    let b = r.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(b.seq, 3);
    assert!(b.reason.contains("edited"), "{b}");

    // Removed from the middle.
    let (_d, r) = chain_of(6).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(r.pool())
        .await
        .unwrap();
    let b = r.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(b.seq, 4);
    assert!(b.reason.contains("missing"), "{b}");

    // Reordered: two entries swap places (contents, links and hashes).
    let (_d, r) = chain_of(6).await;
    sqlx::query("UPDATE audit_log SET seq = -2 WHERE seq = 2")
        .execute(r.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET seq = 2 WHERE seq = 5")
        .execute(r.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET seq = 5 WHERE seq = -2")
        .execute(r.pool())
        .await
        .unwrap();
    let b = r.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(b.seq, 2);

    // Cut from the end.
    let (_d, r) = chain_of(6).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 6")
        .execute(r.pool())
        .await
        .unwrap();
    let b = r.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(b.seq, 6);

    // A replaced hash breaks that entry.
    let (_d, r) = chain_of(6).await;
    sqlx::query("UPDATE audit_log SET hash = X'00' WHERE seq = 2")
        .execute(r.pool())
        .await
        .unwrap();
    let b = r.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(b.seq, 2);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = open(&d).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (9999, 'from the future', CURRENT_TIMESTAMP, 1, X'00', 0)",
    )
    .execute(r.pool())
    .await
    .unwrap();
    r.close().await;
    match Registry::open_sqlite(&d.path().join("registry.db")).await {
        Err(StoreError::SchemaTooNew(m)) => assert!(m.contains("9999"), "{m}"),
        Err(e) => panic!("unexpected: {e}"),
        Ok(_) => panic!("opened a database from the future"),
    }
}
