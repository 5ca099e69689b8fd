//! transparency-dev/merkle's inclusion and consistency vectors against
//! `transparency::merkle`'s verifiers: every happy path verifies, every
//! tampered case (a modified or reordered proof, garbage before or after,
//! the wrong leaf or root, sizes and indices shifted) is refused. The
//! files are in `tests/data/merkle/` (source, commits and licence in its
//! README).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;
use symbolon::transparency::merkle::{verify_consistency, verify_inclusion, Hash};

fn files(kind: &str) -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/merkle")
        .join(kind);
    let mut out = Vec::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((p, v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A base64 field as a hash; `None` when it is not 32 bytes (such a case
/// can only be refused).
fn hash(v: &Value) -> Option<Hash> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap();
    bytes.try_into().ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        other => panic!("proof {other}"),
    }
}

#[test]
fn every_inclusion_vector() {
    let cases = files("inclusion");
    assert!(cases.len() >= 25, "{}", cases.len());
    let mut refused = 0;
    for (path, v) in cases {
        let want_err = v["wantErr"].as_bool().unwrap();
        let verified = (|| {
            let (leaf, root, proof) = (
                hash(&v["leafHash"])?,
                hash(&v["root"])?,
                proof(&v["proof"])?,
            );
            let index = v["leafIdx"].as_u64().unwrap();
            let size = v["treeSize"].as_u64().unwrap();
            Some(verify_inclusion(index, size, &leaf, &proof, &root).is_ok())
        })()
        .unwrap_or(false);
        assert_eq!(verified, !want_err, "{} ({})", path.display(), v["desc"]);
        refused += usize::from(!verified);
    }
    assert!(refused >= 15, "{refused}");
}

#[test]
fn every_consistency_vector() {
    let cases = files("consistency");
    assert!(cases.len() >= 20, "{}", cases.len());
    let mut refused = 0;
    for (path, v) in cases {
        let want_err = v["wantErr"].as_bool().unwrap();
        let verified = (|| {
            let (old, new) = (hash(&v["root1"])?, hash(&v["root2"])?);
            let proof = proof(&v["proof"])?;
            let (m, n) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
            Some(verify_consistency(m, n, &old, &new, &proof).is_ok())
        })()
        .unwrap_or(false);
        assert_eq!(verified, !want_err, "{} ({})", path.display(), v["desc"]);
        refused += usize::from(!verified);
    }
    assert!(refused >= 15, "{refused}");
}
