//! `symbolon audit verify` through the real binary: intact, edited, removed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use symbolon_store::{AuditKind, Registry};

fn registry_with_entries(dir: &std::path::Path, n: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let r = Registry::open_sqlite(&dir.join("data/registry.db"))
            .await
            .unwrap();
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
        let r = Registry::open_sqlite(&dir.join("data/registry.db"))
            .await
            .unwrap();
        sqlx::query(statement).execute(r.pool()).await.unwrap();
        r.close().await;
    });
}

#[test]
fn audit_verify_reports_intact_and_broken_chains() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    fails(
        dir,
        &["audit", "verify", "--data", "data"],
        3,
        "no registry",
    );
    registry_with_entries(dir, 5);
    let v = ok(dir, &["--json", "audit", "verify", "--data", "data"]).json();
    assert_eq!(v["intact"], true);
    assert_eq!(v["entries"], 5);
    assert!(ok(dir, &["audit", "verify", "--data", "data"])
        .text()
        .contains("intact: 5 entries"));

    sql(
        dir,
        "UPDATE audit_log SET kind = 'certificate-revoked' WHERE seq = 2",
    );
    let r = fails(
        dir,
        &["audit", "verify", "--data", "data"],
        4,
        "broken at entry 2",
    );
    assert!(r.stderr.contains("edited"));
    let r = run(
        dir,
        &[
            "--json",
            "audit",
            "verify",
            "--database",
            &format!("sqlite://{}/data/registry.db", dir.display()),
        ],
    );
    assert_eq!(r.code, 4);
    assert!(
        r.stderr.contains("\"code\":\"audit_broken\""),
        "{}",
        r.stderr
    );
}
