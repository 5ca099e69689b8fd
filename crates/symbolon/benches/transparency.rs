//! The transparency log's tree at 10^6 entries (docs/transparency.md):
//! appending a leaf, inclusion and consistency proofs made from the stored
//! complete subtrees and verified as a third person does, and the checkpoint
//! signature (Ed25519, once per batch of entries, not per entry). The
//! registry's own proof reads are measured in symbolon-store's `log_tree`
//! bench.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use symbolon::transparency::checkpoint::Checkpoint;
use symbolon::transparency::commitment::{commit, open, COMMITTED_FIELDS};
use symbolon::transparency::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    MemoryTree,
};

const N: u64 = 1_000_000;

fn tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..N {
        t.push(leaf_hash(&i.to_be_bytes())).unwrap();
    }
    t
}

fn bench(c: &mut Criterion) {
    let t = tree();
    let head = root(&t, N).unwrap();
    let mut g = c.benchmark_group("transparency_1e6");
    g.bench_function("append", |b| {
        let mut small = MemoryTree::new();
        let mut i = 0u64;
        b.iter(|| {
            small.push(leaf_hash(&i.to_be_bytes())).unwrap();
            i += 1;
        })
    });
    let index = N / 3 + 7;
    g.bench_function("inclusion_proof", |b| {
        b.iter(|| inclusion_proof(&t, index, N).unwrap())
    });
    let proof = inclusion_proof(&t, index, N).unwrap();
    let leaf = leaf_hash(&index.to_be_bytes());
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| verify_inclusion(index, N, &leaf, &proof, &head).unwrap())
    });
    let old = N / 2 + 3;
    let old_head = root(&t, old).unwrap();
    g.bench_function("consistency_proof", |b| {
        b.iter(|| consistency_proof(&t, old, N).unwrap())
    });
    let cproof = consistency_proof(&t, old, N).unwrap();
    g.bench_function("verify_consistency", |b| {
        b.iter(|| verify_consistency(old, N, &old_head, &head, &cproof).unwrap())
    });
    g.bench_function("tree_head", |b| b.iter(|| root(&t, N - 1).unwrap()));
    let pair = aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap();
    let body = Checkpoint {
        origin: "symbolon-log/0123456789abcdef".into(),
        size: N,
        root: head,
    }
    .body();
    g.bench_function("checkpoint_signature", |b| {
        b.iter(|| pair.sign(body.as_bytes()))
    });
    g.finish();

    // The commitments of an issuance entry's personal fields (what every
    // audit append naming a subscriber pays), and opening them again.
    let detail = serde_json::json!({
        "serial": "4a1f9c0e8d7b6a5f4e3d2c1b0a998877", "key": format!("sha256:{}", "ab".repeat(32)),
        "subject": "CN=Alice Example,O=Example", "role": "email",
        "alt_names": ["email:alice@example.org"],
        "by": { "role": "station", "name": "station-1", "credential": "0a1b2c3d" },
    })
    .to_string();
    let salts = [[7u8; 32]; COMMITTED_FIELDS.len()];
    let mut g = c.benchmark_group("commitments");
    g.bench_function("commit_issuance_entry", |b| {
        b.iter(|| commit(&detail, &salts))
    });
    let (public, openings) = commit(&detail, &salts);
    let openings = openings.unwrap();
    g.bench_function("open_issuance_entry", |b| {
        b.iter(|| open(&public, &openings).unwrap())
    });
    g.finish();
    println!(
        "proof sizes at 10^6: inclusion {} hashes ({} bytes), consistency {} hashes",
        proof.len(),
        proof.len() * 32,
        cproof.len()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
