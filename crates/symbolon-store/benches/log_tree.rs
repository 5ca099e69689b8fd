//! The transparency log in the registry (SQLite, docs/transparency.md §2):
//! audit appends per second with the tree kept in each entry's transaction
//! (one writer at a time, and 16 at once through the group commit), and
//! inclusion and consistency proofs read from a tree of 10^6 entries
//! (its nodes written directly, as a million appends would leave them).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use symbolon::transparency::merkle::{leaf_hash, MemoryTree, NodeStore as _};
use symbolon_store::{AuditKind, Registry};

const N: u64 = 1_000_000;

/// Appends per second; `personal`: each names a subscriber (subject and
/// alternative names, committed with a salt each, their openings kept).
fn appends(
    rt: &tokio::runtime::Runtime,
    registry: &Registry,
    parallel: usize,
    n: usize,
    personal: bool,
) -> f64 {
    rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..parallel {
            let r = registry.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..n / parallel {
                    let detail = if personal {
                        json!({ "t": t, "i": i, "subject": format!("CN=subscriber {t}-{i}"),
                                "alt_names": [format!("email:s{t}-{i}@example.org")] })
                    } else {
                        json!({ "t": t, "i": i })
                    };
                    r.append_audit(AuditKind::KeyReserved, &detail)
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        (n / parallel * parallel) as f64 / start.elapsed().as_secs_f64()
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let quick = !std::env::args().any(|a| a == "--bench");

    // Appends, each with its tree nodes, in the audit entry's transaction.
    let small = rt
        .block_on(Registry::open(&format!(
            "sqlite://{}",
            dir.path().join("appends.db").display()
        )))
        .unwrap();
    let (n1, n16) = if quick { (16, 32) } else { (2_000, 8_000) };
    let one = appends(&rt, &small, 1, n1, false);
    let many = appends(&rt, &small, 16, n16, false);
    println!(
        "audit appends with the log tree (SQLite): {one:.0}/s one writer, {many:.0}/s 16 writers (group commit)"
    );
    let one_c = appends(&rt, &small, 1, n1, true);
    let many_c = appends(&rt, &small, 16, n16, true);
    println!(
        "audit appends naming a subscriber (two salted commitments each): {one_c:.0}/s one writer ({:.2}x), {many_c:.0}/s 16 writers ({:.2}x)",
        one_c / one,
        many_c / many
    );

    // A tree of 10^6 entries (10^3 for `cargo test --benches`).
    let n = if quick { 1_000 } else { N };
    let big = rt
        .block_on(Registry::open(&format!(
            "sqlite://{}",
            dir.path().join("tree.db").display()
        )))
        .unwrap();
    let start = Instant::now();
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.push(leaf_hash(&i.to_be_bytes())).unwrap();
    }
    rt.block_on(async {
        let mut tx = big.pool().begin().await.unwrap();
        for level in 0..64u32 {
            let width = n >> level;
            if width == 0 {
                break;
            }
            // 300 rows a statement (900 parameters, below SQLite's limit).
            let indices: Vec<u64> = (0..width).collect();
            for chunk in indices.chunks(300) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                    .collect();
                let sql = format!(
                    "INSERT INTO log_nodes (level, idx, hash) VALUES {}",
                    values.join(", ")
                );
                let mut q = sqlx::query(&sql);
                for &idx in chunk {
                    q = q
                        .bind(i64::from(level))
                        .bind(idx as i64)
                        .bind(t.node(level, idx).unwrap().to_vec());
                }
                q.execute(&mut *tx).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
    });
    println!(
        "(a tree of {n} entries written in {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(rt.block_on(big.log_size()).unwrap(), n);

    let mut g = c.benchmark_group("log_tree_registry_1e6");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("inclusion_proof", |b| {
        b.iter(|| rt.block_on(big.log_inclusion_proof(n / 3 + 7, n)).unwrap())
    });
    g.bench_function("consistency_proof", |b| {
        b.iter(|| {
            rt.block_on(big.log_consistency_proof(n / 2 + 3, n))
                .unwrap()
        })
    });
    g.bench_function("tree_head", |b| {
        b.iter(|| rt.block_on(big.log_root(n - 1)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
