//! Cost curves of the registry: issuance as it grows, `audit verify` as the
//! log grows, and the bytes each certificate adds (SQLite).
//!
//! One service per size (10^3, 10^5 and 10^6 keys registered by default;
//! `$SYMBOLON_BENCH_SCALE` names others, comma-separated), each on a
//! registry grown by the bench: for every synthetic key its `public_keys`
//! row, its certificate and its `certificate-issued` audit entry, the hash
//! chain and the transparency log's tree kept exact (written directly, as
//! that many issuances would leave them, in one transaction). The services
//! then certify P-256 CSRs (`$SYMBOLON_BENCH_SUBJECT_ALGORITHM` for others)
//! over plain HTTP with keep-alive in interleaved rounds, so a busy moment
//! of the machine falls on every size alike; the median round is the size's
//! rate. Asserted (`cargo bench` only): the rate at the largest size is
//! within 15 % of the smallest's, and `audit verify` costs the same per
//! entry at the two largest sizes within 50 % (linear; its memory is one
//! page of 10^4 entries). `cargo test --benches` runs it at 10^2 and 10^3.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "shared/mod.rs"]
mod shared;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use symbolon::ca::CaPolicy;
use symbolon::keys::KeyAlgorithm;
use symbolon::transparency::entry::hashes;
use symbolon::transparency::merkle::{MemoryTree, NodeStore as _};
use symbolon_client::ServiceClient;
use symbolon_server::{CaService, DataDir};
use symbolon_store::Registry;

/// Interleaved rounds, and certificates per size in each.
const ROUNDS: usize = 7;
const PER_ROUND: usize = 150;
/// Rows per multi-row INSERT (bind parameters stay below SQLite's limit).
const ROWS: usize = 100;

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let sizes: Vec<u64> = match std::env::var("SYMBOLON_BENCH_SCALE") {
        Ok(v) => v.split(',').map(|s| s.trim().parse().unwrap()).collect(),
        Err(_) if quick => vec![100, 1_000],
        Err(_) => vec![1_000, 100_000, 1_000_000],
    };
    let (rounds, per_round) = if quick { (2, 4) } else { (ROUNDS, PER_ROUND) };
    let subject = shared::subject_algorithm("p256");
    let csrs = shared::make_csrs(sizes.len() * (rounds + 1) * per_round, subject);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let algorithm: KeyAlgorithm = std::env::var("SYMBOLON_BENCH_CA_ALGORITHM")
        .unwrap_or_else(|_| "p256".into())
        .parse()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut sites = Vec::new();
    for &n in &sizes {
        let data = DataDir::new(dir.path().join(format!("data-{n}")));
        data.init("CN=bench CA", algorithm, CaPolicy::default(), None)
            .unwrap();
        let url = data.database_url();
        let registry = rt.block_on(Registry::open(&url)).unwrap();
        let start = Instant::now();
        rt.block_on(grow(&registry, n));
        let grown = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let verified = rt.block_on(registry.verify_audit()).unwrap().unwrap();
        let verify = start.elapsed().as_secs_f64();
        let db = data.path().join("registry.db");
        println!(
            "registry of {n} keys: grown in {grown:.1} s; audit verify of {} entries {:.2} s ({:.2} µs an entry)",
            verified.entries,
            verify,
            verify * 1e6 / verified.entries as f64
        );
        let ca = data.open().unwrap();
        let service = Arc::new(CaService::new(ca, registry).unwrap());
        let station = rt.block_on(shared::station(&service));
        let app = shared::app(&service);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(shared::serve_plain_as(listener, app, station.peer));
        let client = ServiceClient::new(&format!("http://{addr}"), None, None).unwrap();
        sites.push(Site {
            n,
            service,
            client,
            db,
            verify_per_entry: verify / verified.entries as f64,
            rates: Vec::new(),
        });
    }

    // A first round each, untimed: connections, caches and the OCSP and
    // CRL upkeep of a new CA settle before any round counts.
    let mut next = csrs.chunks(per_round);
    for site in &sites {
        shared::load(std::slice::from_ref(&site.client), next.next().unwrap());
    }
    let bytes_before: Vec<u64> = sites.iter().map(|s| used_bytes(&rt, s)).collect();
    for _ in 0..rounds {
        for site in &mut sites {
            let rate = shared::load(std::slice::from_ref(&site.client), next.next().unwrap());
            site.rates.push(rate);
        }
    }
    println!(
        "issuance over plain HTTP ({subject} subjects, {algorithm} CA, {} clients, median of {rounds} interleaved rounds of {per_round}):",
        shared::CLIENTS
    );
    let mut medians = Vec::new();
    for (site, before) in sites.iter_mut().zip(&bytes_before) {
        site.rates.sort_by(f64::total_cmp);
        let median = site.rates[site.rates.len() / 2];
        medians.push(median);
        let grew = used_bytes(&rt, site).saturating_sub(*before);
        println!(
            "  {:>9} keys registered: {median:6.0} certificates/s; registry bytes per certificate {:.0}",
            site.n,
            grew as f64 / (rounds * per_round) as f64
        );
    }
    let (first, last) = (medians[0], medians[medians.len() - 1]);
    println!(
        "ratio issuance at {} keys / at {} keys: {:.2} (flat within 15 %: >= 0.85)",
        sizes[sizes.len() - 1],
        sizes[0],
        last / first
    );
    let per_entry: Vec<f64> = sites.iter().map(|s| s.verify_per_entry).collect();
    let growth = per_entry[per_entry.len() - 1] / per_entry[per_entry.len().saturating_sub(2)];
    println!(
        "audit verify per entry at {} / at {}: {growth:.2} (linear: 1.0)",
        sizes[sizes.len() - 1],
        sizes[sizes.len().saturating_sub(2)]
    );
    for site in &sites {
        rt.block_on(site.service.registry().close());
    }
    // Said on stdout too: scripts/bench keeps only that.
    let mut failed = Vec::new();
    if !quick && last / first < 0.85 {
        failed.push(format!(
            "issuance slows as the registry grows: {last:.0}/s at {} keys against {first:.0}/s at {}",
            sizes[sizes.len() - 1],
            sizes[0]
        ));
    }
    if !quick && growth > 1.5 {
        failed.push(format!(
            "audit verify is not linear: {growth:.2}x the cost per entry"
        ));
    }
    for f in &failed {
        println!("FAILED: {f}");
    }
    assert!(failed.is_empty(), "{}", failed.join("; "));
}

struct Site {
    n: u64,
    service: Arc<CaService>,
    client: ServiceClient,
    db: std::path::PathBuf,
    verify_per_entry: f64,
    rates: Vec<f64>,
}

/// The registry's pages in use, after its write-ahead log is folded in.
fn used_bytes(rt: &tokio::runtime::Runtime, site: &Site) -> u64 {
    rt.block_on(async {
        let pool = site.service.registry().pool();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
            .unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(pool)
            .await
            .unwrap();
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(pool)
            .await
            .unwrap();
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(pool)
            .await
            .unwrap();
        assert!(site.db.exists(), "{} is the registry", site.db.display());
        ((pages - free) * size) as u64
    })
}

/// Adds `n` certified keys to the registry: their keys, certificates and
/// audit entries, the chain continued from the head and the log's tree
/// rebuilt over every entry, in one transaction.
async fn grow(registry: &Registry, n: u64) {
    let mut tx = registry.pool().begin().await.unwrap();
    let (head_seq, head_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    // The tree over the entries already there (the CA's own).
    let existing: Vec<(i64, i64, String, String, Vec<u8>)> =
        sqlx::query_as("SELECT seq, at, kind, detail, prev_hash FROM audit_log ORDER BY seq")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let mut tree = MemoryTree::new();
    for (seq, at, kind, detail, prev) in &existing {
        tree.push(hashes(*seq, *at, kind, detail, prev).1).unwrap();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // A certificate's size as the bench's own CA issues them.
    let der = vec![0x30u8; 620];
    let mut prev = head_hash;
    let mut seq = head_seq;
    // Keys in the order of their digest, which orders both the fingerprints
    // and the serials (its prefix): every index insert is an append, so the
    // growth takes a minute at 10^6 rather than many (the issuances the
    // bench times afterwards land at random places, as real ones do).
    let mut ids: Vec<(Vec<u8>, u64)> = (0..n)
        .map(|i| {
            let digest = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                format!("synthetic key {i}").as_bytes(),
            );
            (digest.as_ref().to_vec(), i)
        })
        .collect();
    ids.sort_unstable();
    for chunk in ids.chunks(ROWS) {
        let mut keys = Vec::new();
        let mut entries = Vec::new();
        for (digest, i) in chunk {
            let fingerprint = format!("sha256:{}", hex::encode(digest));
            let serial = hex::encode(&digest[..16]);
            let mut spki = vec![0x04u8; 91];
            spki[..32].copy_from_slice(digest);
            seq += 1;
            let detail = json!({
                "serial": serial,
                "fingerprint": fingerprint,
                "profile": "user",
                "subject": format!("CN=synthetic {i}"),
            })
            .to_string();
            let (hash, leaf) = hashes(seq, now, "certificate-issued", &detail, &prev);
            tree.push(leaf).unwrap();
            entries.push((seq, detail, prev.clone(), hash.to_vec()));
            prev = hash.to_vec();
            keys.push((fingerprint, serial, spki, i));
        }
        let sql = insert(
            "public_keys (fingerprint, spki, state, registered_at, updated_at)",
            5,
            keys.len(),
        );
        let mut q = sqlx::query(&sql);
        for (fingerprint, _, spki, _) in &keys {
            q = q
                .bind(fingerprint)
                .bind(spki)
                .bind("certified")
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *tx).await.unwrap();
        let sql = insert(
            "certificates (serial, fingerprint, subject, profile, not_before, not_after, der, issued_at)",
            8,
            keys.len(),
        );
        let mut q = sqlx::query(&sql);
        for (fingerprint, serial, _, i) in &keys {
            q = q
                .bind(serial)
                .bind(fingerprint)
                .bind(format!("CN=synthetic {i}"))
                .bind("user")
                .bind(now)
                .bind(now + 365 * 86_400)
                .bind(&der)
                .bind(now);
        }
        q.execute(&mut *tx).await.unwrap();
        let sql = insert(
            "audit_log (seq, at, kind, detail, prev_hash, hash)",
            6,
            entries.len(),
        );
        let mut q = sqlx::query(&sql);
        for (seq, detail, prev_hash, hash) in &entries {
            q = q
                .bind(seq)
                .bind(now)
                .bind("certificate-issued")
                .bind(detail)
                .bind(prev_hash)
                .bind(hash);
        }
        q.execute(&mut *tx).await.unwrap();
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev)
        .execute(&mut *tx)
        .await
        .unwrap();
    // The tree's complete subtrees, every level (the CA's few are rewritten).
    sqlx::query("DELETE FROM log_nodes")
        .execute(&mut *tx)
        .await
        .unwrap();
    let size = tree.size();
    for level in 0..64u32 {
        let width = size >> level;
        if width == 0 {
            break;
        }
        let indices: Vec<u64> = (0..width).collect();
        for chunk in indices.chunks(3 * ROWS) {
            let sql = insert("log_nodes (level, idx, hash)", 3, chunk.len());
            let mut q = sqlx::query(&sql);
            for &idx in chunk {
                q = q
                    .bind(i64::from(level))
                    .bind(idx as i64)
                    .bind(tree.node(level, idx).unwrap().to_vec());
            }
            q.execute(&mut *tx).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    // Folded into the database as a running registry's checkpoints keep it:
    // reads through a write-ahead log of a million pages cost more per page.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(registry.pool())
        .await
        .unwrap();
}

/// `INSERT INTO table (columns) VALUES ($1, …), …` for `rows` rows.
fn insert(table: &str, columns: usize, rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!("INSERT INTO {table} VALUES {}", values.join(", "))
}
