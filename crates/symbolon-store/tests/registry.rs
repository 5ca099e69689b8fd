//! The registry's invariants, on a real SQLite file and on PostgreSQL (when
//! `SYMBOLON_TEST_POSTGRES_URL` names a server; `scripts/test` starts a
//! throwaway one), with several pools on one database standing in for
//! several processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use symbolon::keys::{Fingerprint, RsaAlgorithm, RsaPrivateKey};
use symbolon::token::TokenSerial;
use symbolon_store::{
    AuditKind, Backend, CertificateRecord, CertificateSerial, ClaimScope, KeyState, Registry,
    StoreError, Vouch,
};

fn key() -> (Fingerprint, Vec<u8>) {
    // Any bytes do for the registry; a real SPKI keeps the test honest.
    let k = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    (
        k.public_key().fingerprint(),
        k.public_key().spki_der().to_vec(),
    )
}

/// A database for one test: a fresh SQLite file, or a fresh database on the
/// PostgreSQL server that `SYMBOLON_TEST_POSTGRES_URL` names.
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    async fn open(&self) -> Registry {
        Registry::open(&self.url).await.unwrap()
    }
}

/// Every database a test runs on. With SYMBOLON_REQUIRE_PEERS=1 a missing
/// PostgreSQL fails the test instead of leaving it SQLite-only.
async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![Db {
        url: format!("sqlite://{}", dir.path().join("registry.db").display()),
        _dir: Some(dir),
    }];
    match std::env::var("SYMBOLON_TEST_POSTGRES_URL") {
        Ok(admin) => out.push(Db {
            url: fresh_postgres(&admin).await,
            _dir: None,
        }),
        Err(_) if std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") => {
            panic!("SYMBOLON_REQUIRE_PEERS=1 but SYMBOLON_TEST_POSTGRES_URL is not set")
        }
        Err(_) => eprintln!("no SYMBOLON_TEST_POSTGRES_URL: SQLite only"),
    }
    out
}

async fn fresh_postgres(admin: &str) -> String {
    sqlx::any::install_default_drivers();
    let mut name = [0u8; 8];
    symbolon::keys::random_bytes(&mut name).unwrap();
    let name = format!("symbolon_test_{}", hex::encode(name));
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{name}")
}

#[tokio::test]
async fn a_key_is_registered_once_ever() {
    for db in databases().await {
        let r = db.open().await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_processes_certify_a_key_exactly_once() {
    for db in databases().await {
        let pools = [db.open().await, db.open().await, db.open().await];
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
}

#[tokio::test]
async fn certificates_and_tokens_round_trip() {
    for db in databases().await {
        let r = db.open().await;
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
            attestation: None,
            issued_at: 3,
        };
        assert!(r.key_available(&fp, None).await.unwrap());
        r.record_issuance(&rec, &spki, None, None, &json!({}))
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
            r.record_issuance(&again, &spki, None, None, &json!({}))
                .await,
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
        let vouch = |m: Option<symbolon::keys::Fingerprint>| Vouch {
            by: "st-1".into(),
            role: "station".into(),
            manufacturer_root: m,
        };
        r.register_token(
            token,
            b"device key spki",
            Some(b"transport key spki"),
            vouch(None),
        )
        .await
        .unwrap();
        let t = r.token(&token).await.unwrap();
        assert_eq!(t.transport_key.as_deref(), Some(&b"transport key spki"[..]));
        assert_eq!(t.device_key, b"device key spki");
        assert_eq!(t.vouched_by.as_deref(), Some("st-1"));
        assert_eq!(t.replaced_by, None);
        // A device key under a second serial: refused, naming the first.
        let e = r
            .register_token(
                TokenSerial::random().unwrap(),
                b"device key spki",
                None,
                vouch(None),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::AlreadyExists(m) if m.contains(&token.to_string())),
            "{e}"
        );
        // The same serial with another device key: refused, naming the serial.
        let e = r
            .register_token(token, b"another device key", None, vouch(None))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::AlreadyExists(m) if m.contains("a serial is registered once")),
            "{e}"
        );
        // A token registered before devices were vouched for is vouched for
        // by registering it again (same serial, same key), once.
        sqlx::query("UPDATE tokens SET vouched_by = NULL, vouched_role = NULL")
            .execute(r.pool())
            .await
            .unwrap();
        assert_eq!(r.token(&token).await.unwrap().vouched_by, None);
        let later = Vouch {
            by: "officer-1".into(),
            role: "registration-officer".into(),
            manufacturer_root: None,
        };
        r.register_token(token, b"device key spki", None, later.clone())
            .await
            .unwrap();
        let t = r.token(&token).await.unwrap();
        assert_eq!(t.vouched_by.as_deref(), Some("officer-1"));
        assert_eq!(
            t.transport_key.as_deref(),
            Some(&b"transport key spki"[..]),
            "kept"
        );
        assert!(
            r.register_token(token, b"device key spki", None, later)
                .await
                .is_err(),
            "once"
        );
        assert_eq!(
            r.token_by_device(&symbolon::keys::Fingerprint::of_spki(b"device key spki"))
                .await
                .unwrap(),
            Some(token)
        );
    }
}

/// Writes submitted together commit in one transaction (group commit).
/// One refused among them is rolled back alone: the batch is run again
/// with a savepoint around each write, and the others commit with their
/// audit entries and log leaves, in one unbroken chain.
#[tokio::test]
async fn a_refusal_in_a_batch_undoes_only_itself() {
    use symbolon::transparency::merkle::root;
    for db in databases().await {
        let r = db.open().await;
        let (taken, taken_spki) = key();
        r.certify_key(taken, &taken_spki, None).await.unwrap();
        let fresh: Vec<(Fingerprint, Vec<u8>)> = (0..2).map(|_| key()).collect();
        let entry = |i: i32| json!({ "i": i });
        let (e1, e2) = (entry(1), entry(2));
        // One task polls all five: each is queued before the writer runs,
        // so the writer takes them as one batch, the refusal in the middle.
        let (a, b, refused, c, d) = tokio::join!(
            r.append_audit(AuditKind::KeyReserved, &e1),
            r.certify_key(fresh[0].0, &fresh[0].1, None),
            r.certify_key(taken, &taken_spki, None),
            r.append_audit(AuditKind::KeyReserved, &e2),
            r.certify_key(fresh[1].0, &fresh[1].1, None),
        );
        assert!(
            matches!(refused, Err(StoreError::DuplicateKey(_))),
            "{refused:?}"
        );
        b.unwrap();
        d.unwrap();
        for (fp, _) in &fresh {
            assert_eq!(r.key(fp).await.unwrap().state, KeyState::Certified);
        }
        assert_eq!((a.unwrap(), c.unwrap()), (1, 2));
        assert_eq!(r.verify_audit().await.unwrap().unwrap().entries, 2);
        // The log tree took exactly the committed entries' leaves.
        let size = r.log_size().await.unwrap();
        assert_eq!(size, 2);
        assert_eq!(
            r.log_root(size).await.unwrap(),
            root(&memory_tree(&r).await, size).unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_make_one_chain() {
    for db in databases().await {
        let pools = [db.open().await, db.open().await, db.open().await];
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
}

async fn chain_of(db: &Db, n: usize) -> Registry {
    let r = db.open().await;
    for i in 0..n {
        r.append_audit(AuditKind::CertificateIssued, &json!({ "n": i }))
            .await
            .unwrap();
    }
    assert!(r.verify_audit().await.unwrap().is_ok());
    r
}

async fn exec(r: &Registry, sql: &str) {
    sqlx::query(sql).execute(r.pool()).await.unwrap();
}

#[tokio::test]
async fn audit_verify_names_the_first_broken_link() {
    let cases: [(&str, &[&str], i64, &str); 5] = [
        (
            "edited",
            &["UPDATE audit_log SET detail = '{\"n\":99}' WHERE seq = 3"],
            3,
            "edited",
        ),
        (
            "removed",
            &["DELETE FROM audit_log WHERE seq = 4"],
            4,
            "missing",
        ),
        (
            "reordered",
            &[
                "UPDATE audit_log SET seq = -2 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 5",
                "UPDATE audit_log SET seq = 5 WHERE seq = -2",
            ],
            2,
            "",
        ),
        ("cut", &["DELETE FROM audit_log WHERE seq = 6"], 6, "cut"),
        (
            "rehashed",
            &["UPDATE audit_log SET hash = prev_hash WHERE seq = 2"],
            2,
            "edited",
        ),
    ];
    for (what, statements, seq, reason) in cases {
        for db in databases().await {
            let r = chain_of(&db, 6).await;
            for sql in statements {
                exec(&r, sql).await;
            }
            let b = r.verify_audit().await.unwrap().unwrap_err();
            assert_eq!(b.seq, seq, "{what} on {:?}: {b}", r.backend());
            assert!(b.reason.contains(reason), "{what}: {b}");
        }
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    for db in databases().await {
        let r = db.open().await;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (9999, 'from the future', CURRENT_TIMESTAMP, $1, $2, 0)",
        )
        .bind(true)
        .bind(vec![0u8])
        .execute(r.pool())
        .await
        .unwrap();
        r.close().await;
        match Registry::open(&db.url).await {
            Err(StoreError::SchemaTooNew(m)) => assert!(m.contains("9999"), "{m}"),
            Err(e) => panic!("unexpected: {e}"),
            Ok(_) => panic!("opened a database from the future"),
        }
    }
}

#[tokio::test]
async fn both_backends_are_what_they_say() {
    let dbs = databases().await;
    assert_eq!(dbs[0].open().await.backend(), Backend::Sqlite);
    if let Some(pg) = dbs.get(1) {
        assert_eq!(pg.open().await.backend(), Backend::Postgres);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_won_once_across_processes() {
    for db in databases().await {
        let pools = [db.open().await, db.open().await, db.open().await];
        let mut tasks = Vec::new();
        for i in 0..30 {
            let r = pools[i % 3].clone();
            tasks.push(tokio::spawn(async move {
                r.claim_once(
                    ClaimScope::PurchaseOrder,
                    b"order-1",
                    AuditKind::LicenceIssued,
                    &json!({ "attempt": i }),
                )
                .await
            }));
        }
        let (mut won, mut refused) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::AlreadyClaimed { scope, id }) => {
                    assert_eq!(scope, "purchase-order");
                    assert_eq!(id, hex::encode(b"order-1"));
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((won, refused), (1, 29), "{}", db.url);
        let r = &pools[0];
        assert!(r
            .is_claimed(ClaimScope::PurchaseOrder, b"order-1")
            .await
            .unwrap());
        assert!(!r
            .is_claimed(ClaimScope::PurchaseOrder, b"order-2")
            .await
            .unwrap());
        // Only the winner wrote an audit entry.
        assert_eq!(r.verify_audit().await.unwrap().unwrap().entries, 1);
    }
}

/// The tree the registry keeps, recomputed in memory from the entries.
async fn memory_tree(r: &Registry) -> symbolon::transparency::merkle::MemoryTree {
    let mut t = symbolon::transparency::merkle::MemoryTree::new();
    for e in r.audit_entries(0, 100_000).await.unwrap() {
        assert!(e.hash_matches());
        t.push(e.leaf_hash()).unwrap();
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_tree_follows_the_audit_chain_across_processes() {
    use symbolon::transparency::merkle::{root, verify_consistency, verify_inclusion};
    for db in databases().await {
        let pools = [db.open().await, db.open().await, db.open().await];
        let mut tasks = Vec::new();
        for i in 0..45 {
            let r = pools[i % 3].clone();
            tasks.push(tokio::spawn(async move {
                r.append_audit(AuditKind::KeyReserved, &json!({ "i": i }))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let r = &pools[1];
        assert_eq!(r.log_size().await.unwrap(), 45);
        let mem = memory_tree(r).await;
        for size in [0u64, 1, 2, 7, 8, 31, 44, 45] {
            let head = r.log_root(size).await.unwrap();
            assert_eq!(head, root(&mem, size).unwrap(), "size {size}");
            for index in (0..size).step_by(5) {
                let proof = r.log_inclusion_proof(index, size).await.unwrap();
                let leaf = r.log_entry(index as i64 + 1).await.unwrap().leaf_hash();
                verify_inclusion(index, size, &leaf, &proof, &head).unwrap();
            }
            for old in [0u64, 1, 3, size / 2, size]
                .into_iter()
                .filter(|&o| o <= size)
            {
                let proof = r.log_consistency_proof(old, size).await.unwrap();
                let old_head = root(&mem, old).unwrap();
                verify_consistency(old, size, &old_head, &head, &proof).unwrap();
            }
        }
        // Beyond the tree, or backwards: refused, not computed.
        for e in [
            r.log_root(46).await.unwrap_err(),
            r.log_inclusion_proof(45, 45).await.unwrap_err(),
            r.log_inclusion_proof(0, 46).await.unwrap_err(),
            r.log_consistency_proof(9, 8).await.unwrap_err(),
            r.log_entry(46).await.unwrap_err(),
            r.log_entry(0).await.unwrap_err(),
        ] {
            assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        }
    }
}

#[tokio::test]
async fn a_registry_from_before_the_tree_catches_up_at_its_next_entry() {
    for db in databases().await {
        let r = chain_of(&db, 30).await;
        exec(&r, "DELETE FROM log_nodes").await;
        assert_eq!(r.log_size().await.unwrap(), 0);
        // At start, the service catches up in bounded transactions.
        assert_eq!(r.catch_up_log().await.unwrap(), 30);
        assert_eq!(r.catch_up_log().await.unwrap(), 0);
        assert_eq!(r.log_size().await.unwrap(), 30);
        // Or, without it, the next entry does.
        exec(&r, "DELETE FROM log_nodes").await;
        r.append_audit(AuditKind::CertificateIssued, &json!({ "n": 30 }))
            .await
            .unwrap();
        assert_eq!(r.log_size().await.unwrap(), 31);
        let mem = memory_tree(&r).await;
        let want = symbolon::transparency::merkle::root(&mem, 31).unwrap();
        assert_eq!(r.log_root(31).await.unwrap(), want);
        // A tree with a hole is named, not papered over.
        exec(&r, "DELETE FROM log_nodes WHERE level = 0 AND idx = 12").await;
        let e = r.log_inclusion_proof(13, 31).await.unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
        // A tree ahead of its chain too.
        sqlx::query("INSERT INTO log_nodes (level, idx, hash) VALUES (0, 40, $1)")
            .bind(vec![0u8; 32])
            .execute(r.pool())
            .await
            .unwrap();
        let e = r
            .append_audit(AuditKind::CertificateIssued, &json!({ "n": 31 }))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
        assert_eq!(r.verify_audit().await.unwrap().unwrap().entries, 31);
    }
}

#[tokio::test]
async fn a_second_head_for_a_signed_size_is_refused() {
    for db in databases().await {
        let r = chain_of(&db, 6).await;
        assert!(r.latest_checkpoint().await.unwrap().is_none());
        let root = r.log_root(6).await.unwrap();
        r.record_checkpoint(6, root, "note six".into())
            .await
            .unwrap();
        // The same head again (two signers racing) is fine.
        r.record_checkpoint(6, root, "note six".into())
            .await
            .unwrap();
        let e = r
            .record_checkpoint(6, [7; 32], "a fork".into())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
        let root4 = r.log_root(4).await.unwrap();
        r.record_checkpoint(4, root4, "note four".into())
            .await
            .unwrap();
        let latest = r.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(
            (latest.size, latest.root, latest.note.as_str()),
            (6, root, "note six")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_index_finds_entries_by_object_and_follows_a_log_cut_back() {
    use symbolon_store::LogRef;
    for db in databases().await {
        let (a, b) = (db.open().await, db.open().await);
        let (x, _) = key();
        let (y, _) = key();
        for i in 0..4 {
            a.append_audit(
                AuditKind::KeyReserved,
                &json!({ "key": x, "i": i, "subject": "CN=x" }),
            )
            .await
            .unwrap();
        }
        a.append_audit(AuditKind::CertificateRevoked, &json!({ "serial": "0a" }))
            .await
            .unwrap();
        // Two indexers (two processes) over the same entries agree.
        let (i1, i2) = tokio::join!(a.index_log(), b.index_log());
        assert!(i1.unwrap() + i2.unwrap() >= 5);
        let found = a.log_naming(&[LogRef::Key(x)]).await.unwrap();
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(found[0].1, "key-reserved");
        let serial = a.log_naming(&[LogRef::Serial("0a".into())]).await.unwrap();
        assert_eq!(serial, [(5, "certificate-revoked".to_string())]);
        // The subject entered the tree committed, and opens for auditors.
        let e = &a.audit_entries_at(&[1]).await.unwrap()[0];
        assert!(!e.detail.contains("CN=x"), "{}", e.detail);
        assert_eq!(e.opened_detail().unwrap()["subject"], "CN=x");
        assert!(a.log_entry(1).await.unwrap().openings.is_none());

        // The log cut back to two entries (a registry restored from an
        // older copy), then grown again: the index follows.
        for sql in [
            "DELETE FROM audit_log WHERE seq > 2",
            "DELETE FROM log_nodes WHERE level = 0 AND idx >= 2",
            "DELETE FROM log_nodes WHERE level > 0",
            "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2) WHERE id = 1",
        ] {
            sqlx::query(sql).execute(a.pool()).await.unwrap();
        }
        let c = db.open().await;
        c.append_audit(AuditKind::KeyReserved, &json!({ "key": y }))
            .await
            .unwrap();
        c.index_log().await.unwrap();
        let xs = c.log_naming(&[LogRef::Key(x)]).await.unwrap();
        assert_eq!(xs.iter().map(|f| f.0).collect::<Vec<_>>(), [1, 2]);
        let ys = c.log_naming(&[LogRef::Key(y)]).await.unwrap();
        assert_eq!(ys.iter().map(|f| f.0).collect::<Vec<_>>(), [3]);
    }
}

fn stored_crl(number: i64, this_update: i64, delta_of: Option<i64>) -> symbolon_store::StoredCrl {
    symbolon_store::StoredCrl {
        number,
        this_update,
        next_update: this_update + 86_400,
        covers_seq: number,
        entries: 0,
        delta_of,
        der: vec![number as u8],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_and_delta_crls_share_one_number_sequence_and_bases_go_by_age() {
    const DAY: i64 = 86_400;
    let t0 = 1_900_000_000;
    for db in databases().await {
        let r = db.open().await;
        assert_eq!(r.next_crl_number().await.unwrap(), 1);
        assert_eq!(r.crl_base(t0).await.unwrap(), None);
        r.record_crl(stored_crl(1, t0 - 2 * DAY, None))
            .await
            .unwrap();
        r.record_crl(stored_crl(2, t0 - 3600, None)).await.unwrap();
        r.record_crl(stored_crl(3, t0, Some(1))).await.unwrap();
        // A number taken by either kind, or below the newest, is refused.
        for (n, delta) in [(3, None), (2, None), (3, Some(2)), (1, Some(1))] {
            assert!(
                matches!(
                    r.record_crl(stored_crl(n, t0, delta)).await,
                    Err(StoreError::AlreadyExists(_))
                ),
                "{n} {delta:?}"
            );
        }
        assert_eq!(r.next_crl_number().await.unwrap(), 4);
        assert_eq!(r.latest_crl().await.unwrap().unwrap().number, 2);
        let delta = r.latest_delta_crl().await.unwrap().unwrap();
        assert_eq!((delta.number, delta.delta_of), (3, Some(1)));
        // The base: the newest full CRL at least a lifetime old; while none
        // is, the first.
        let base = |before: i64| {
            let r = &r;
            async move { r.crl_base(before).await.unwrap().unwrap().number }
        };
        assert_eq!(base(t0 - DAY).await, 1);
        assert_eq!(base(t0).await, 2);
        assert_eq!(base(t0 - 3 * DAY).await, 1);
        // Old bases are dropped once several lifetimes old.
        r.record_crl(stored_crl(4, t0 + 2 * DAY, None))
            .await
            .unwrap();
        assert_eq!(base(t0 - 3 * DAY).await, 2);
        // One full and one delta CRL are kept.
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crls")
            .fetch_one(&sqlx::AnyPool::connect(&db.url).await.unwrap())
            .await
            .unwrap();
        assert_eq!(kept, 2);
    }
}

/// A second decision by one arbitrator, and a decision for a position
/// already taken, are told apart on both databases (PostgreSQL aborts a
/// transaction at its first error, so the store must not ask after one).
#[tokio::test]
async fn a_repeated_decision_and_a_taken_position_are_told_apart() {
    for db in databases().await {
        let r = db.open().await;
        let (fp, _) = key();
        let detail = json!({});
        r.record_escrow(b"escrow-1", fp, b"escrow", Vec::new(), &detail)
            .await
            .unwrap();
        r.create_recovery("request-1", b"escrow-1", b"request", &detail)
            .await
            .unwrap();
        r.append_approval("request-1", 0, "alice", b"a0", true, &detail)
            .await
            .unwrap();
        let again = r
            .append_approval("request-1", 1, "alice", b"a1", true, &detail)
            .await;
        assert!(
            matches!(again, Err(StoreError::AlreadyExists(_))),
            "{again:?}"
        );
        let taken = r
            .append_approval("request-1", 0, "bob", b"b0", false, &detail)
            .await;
        assert!(matches!(taken, Err(StoreError::ChainMoved(_))), "{taken:?}");
        // Neither refusal left anything: the chain holds alice's alone.
        assert_eq!(r.recovery("request-1").await.unwrap().approvals.len(), 1);
    }
}

/// Issuances that arrive together are one batch, whose rows and audit
/// appends the writer writes together in multi-row statements: on each
/// database the batch commits the same rows as one issuance at a time
/// would (the attestation, the chain, the tree), and the same key twice in
/// the batch is refused once, as a duplicate.
#[tokio::test]
async fn issuances_in_one_batch_commit_what_each_would_alone() {
    use symbolon::transparency::merkle::{root, MemoryTree};
    for db in databases().await {
        let r = db.open().await;
        let keys: Vec<(Fingerprint, Vec<u8>)> = (0..3).map(|_| key()).collect();
        let record = |i: usize, serial: &str, attestation: Option<&str>| CertificateRecord {
            serial: serial.parse().unwrap(),
            fingerprint: keys[i].0,
            subject: format!("CN=batch {serial}"),
            profile: "client".into(),
            not_before: 1,
            not_after: 2,
            der: vec![0x30, 0x00],
            generated_on_token: None,
            attestation: attestation.map(str::to_owned),
            issued_at: 3,
        };
        let recs = [
            record(0, "0a", None),
            record(1, "0b", Some("attested")),
            record(0, "0c", None),
            record(2, "0d", None),
        ];
        let details: Vec<serde_json::Value> = (0..4).map(|i| json!({ "n": i })).collect();
        let key_of = [0, 1, 0, 2];
        let issue =
            |i: usize| r.record_issuance(&recs[i], &keys[key_of[i]].1, None, None, &details[i]);
        // One task polls all four: the writer takes them as one batch.
        let (a, b, c, d) = tokio::join!(issue(0), issue(1), issue(2), issue(3));
        assert!(matches!(c, Err(StoreError::DuplicateKey(_))), "{c:?}");
        assert_eq!([a.unwrap(), b.unwrap(), d.unwrap()], [1, 2, 3]);
        // The duplicate was found by running the batch again.
        assert_eq!(r.writer_reruns(), 1);
        for (i, rec) in recs.iter().enumerate() {
            let found = r.certificate(&rec.serial).await;
            if i == 2 {
                assert!(matches!(found, Err(StoreError::NotFound(_))));
            } else {
                assert_eq!(&found.unwrap(), rec);
            }
        }
        assert_eq!(r.verify_audit().await.unwrap().unwrap().entries, 3);
        let mut tree = MemoryTree::new();
        for e in r.audit_entries(0, 10).await.unwrap() {
            tree.push(e.leaf_hash()).unwrap();
        }
        assert_eq!(r.log_size().await.unwrap(), 3);
        assert_eq!(r.log_root(3).await.unwrap(), root(&tree, 3).unwrap());
        // Two batches on (the first after a refusal starts with
        // savepoints): the rows written together are taken the first time.
        for round in 0..2 {
            let more: Vec<(Fingerprint, Vec<u8>)> = (0..3).map(|_| key()).collect();
            let recs: Vec<CertificateRecord> = more
                .iter()
                .enumerate()
                .map(|(i, (fp, _))| CertificateRecord {
                    serial: format!("1{round}0{i}").parse().unwrap(),
                    fingerprint: *fp,
                    ..record(0, "01", Some("attested"))
                })
                .collect();
            let issue = |i: usize| r.record_issuance(&recs[i], &more[i].1, None, None, &details[i]);
            let (a, b, c) = tokio::join!(issue(0), issue(1), issue(2));
            assert!(a.is_ok() && b.is_ok() && c.is_ok());
        }
        assert_eq!(r.writer_reruns(), 1, "a batch without a refusal runs once");
        assert_eq!(r.verify_audit().await.unwrap().unwrap().entries, 9);
    }
}
