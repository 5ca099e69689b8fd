//! `symbolon audit verify` through the real binary: intact, edited, removed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use symbolon_store::{AuditKind, Registry};

/// The registry this test directory uses: the data directory's SQLite file,
/// or its PostgreSQL database in the PostgreSQL pass.
fn url(dir: &std::path::Path) -> String {
    test_database(dir)
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("data/registry.db").display()))
}

fn registry_with_entries(dir: &std::path::Path, n: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let r = Registry::open(&url(dir)).await.unwrap();
        for i in 0..n {
            r.append_audit(AuditKind::CertificateIssued, &json!({ "i": i }))
                .await
                .unwrap();
        }
        r.close().await;
    });
}

fn sql(dir: &std::path::Path, statement: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = Registry::open(&url(dir)).await.unwrap();
        sqlx::query(statement).execute(r.pool()).await.unwrap();
        r.close().await;
    });
}

#[test]
fn audit_verify_reports_intact_and_broken_chains() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    if use_test_database(dir).is_none() {
        // The embedded default: no file, no registry (verify never creates one).
        sym_fails!(dir, "audit verify --data data", 3, "no registry");
    }
    registry_with_entries(dir, 5);
    let v = sym!(dir, "--json audit verify --data data").json();
    assert_eq!(v["intact"], true);
    assert_eq!(v["entries"], 5);
    assert!(sym!(dir, "audit verify --data data")
        .text()
        .contains("intact: 5 entries"));

    sql(
        dir,
        "UPDATE audit_log SET kind = 'certificate-revoked' WHERE seq = 2",
    );
    let r = sym_fails!(dir, "audit verify --data data", 4, "broken at entry 2");
    assert!(r.stderr.contains("edited"));
    let r = run(dir, &words!["--json audit verify --database", &url(dir)]);
    assert_eq!(r.code, 4);
    assert!(
        r.stderr.contains("\"code\":\"audit_broken\""),
        "{}",
        r.stderr
    );
}
