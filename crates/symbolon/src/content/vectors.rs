//! The checked-in test vectors of the sealed content format
//! (`crates/symbolon/tests/data/content/`, described in
//! docs/content-format.md §6): for each recipient key (RSA, version 1;
//! P-256 and X25519, version 2), each valid vector is recomputed byte for
//! byte from its content key, salt and wrapped key, and opened with the
//! test recipient key; each invalid one must fail with its named error.
//!
//! `cargo test -p symbolon --lib content::vectors::regenerate -- --ignored`
//! writes a fresh set (new random keys, so new bytes); with
//! `SYMBOLON_VECTOR_SET=vectors-p256.json` only that file.

use serde_json::{json, Value};

use super::key::ContentKey;
use super::stream::seal_with_key;
use super::*;
use crate::keys::PrivateKey;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/content");

/// Each vector file and its recipient key (both in `DIR`).
const SETS: [(&str, &str); 3] = [
    ("vectors.json", "recipient-TEST-ONLY.pem"),
    ("vectors-p256.json", "recipient-p256-TEST-ONLY.pem"),
    ("vectors-x25519.json", "recipient-x25519-TEST-ONLY.pem"),
];

fn recipient(file: &str) -> PrivateKey {
    let pem = std::fs::read(format!("{DIR}/{file}")).unwrap();
    PrivateKey::import_pem(&pem).unwrap()
}

fn version_for(key: &PrivateKey) -> u8 {
    match key {
        PrivateKey::Rsa(_) => VERSION,
        PrivateKey::Ec(_) => VERSION_HPKE,
    }
}

fn class(e: &ContentError) -> &'static str {
    match e {
        ContentError::NotSealed(_) => "not_sealed",
        ContentError::HeaderAltered => "header_altered",
        ContentError::ChunkAltered { .. } => "chunk_altered",
        ContentError::Truncated { .. } => "truncated",
        ContentError::TrailingData => "trailing_data",
        _ => "other",
    }
}

fn open(key: &PrivateKey, sealed: &[u8]) -> Result<Vec<u8>, ContentError> {
    let mut input = sealed;
    let header = ContentHeader::read_from(&mut input)?;
    let mut opener = opener_for(key, &header, header.wrapped_key())?;
    let mut out = Vec::new();
    unseal(&mut input, &header, &mut opener, &mut out)?;
    Ok(out)
}

fn hex_field(v: &Value, name: &str) -> Vec<u8> {
    hex::decode(v[name].as_str().unwrap_or_else(|| panic!("{name}"))).unwrap()
}

#[test]
fn checked_in_vectors_hold() {
    for (vectors, key) in SETS {
        check_set(vectors, &recipient(key));
    }
}

fn check_set(file: &str, key: &PrivateKey) {
    let text = std::fs::read_to_string(format!("{DIR}/{file}")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 12);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let sealed = hex_field(v, "sealed");
        let expected = v["result"].as_str().unwrap();
        if expected != "ok" {
            let e = open(key, &sealed).expect_err(name);
            assert_eq!(class(&e), expected, "{name}: {e}");
            continue;
        }
        let plaintext = hex_field(v, "plaintext");
        assert_eq!(open(key, &sealed).unwrap(), plaintext, "{name}");
        // Recompute every byte from the vector's inputs.
        let content_key = ContentKey::from_unwrapped(&hex_field(v, "content_key")).unwrap();
        let wrapped = hex_field(v, "wrapped_key");
        let salt: [u8; SALT_LEN] = hex_field(v, "salt").try_into().unwrap();
        let header = ContentHeader::new(
            version_for(key),
            v["chunk_size"].as_u64().unwrap().trailing_zeros() as u8,
            key.public_key().fingerprint(),
            v["content_id"].as_str().unwrap().parse().unwrap(),
            salt,
            wrapped.clone(),
        )
        .unwrap();
        assert_eq!(
            wrap::unwrap(key.into(), &header, &wrapped)
                .unwrap()
                .expose(),
            content_key.expose(),
            "{file} {name}: the wrapped key unwraps to the content key"
        );
        let mut again = Vec::new();
        seal_with_key(&mut plaintext.as_slice(), &mut again, &content_key, header).unwrap();
        assert_eq!(again, sealed, "{name}: recomputed bytes differ");
    }
}

#[test]
#[ignore = "writes new vectors; run by hand"]
fn regenerate() {
    let only = std::env::var("SYMBOLON_VECTOR_SET").ok();
    for (vectors, key) in SETS {
        if only.as_deref().is_none_or(|o| o == vectors) {
            regenerate_set(vectors, key);
        }
    }
}

fn regenerate_set(file: &str, key_file: &str) {
    let key = &recipient(key_file);
    let content_id: ContentId = "5eed0000000000000000000000000001".parse().unwrap();
    let mut vectors = Vec::new();
    let mut three_chunks = Vec::new();
    for (name, n) in [
        ("empty", 0usize),
        ("one byte", 1),
        ("chunk minus one", 1023),
        ("exactly one chunk", 1024),
        ("chunk plus one", 1025),
        ("three chunks, short last", 2051),
    ] {
        let plaintext: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
        let content_key = ContentKey::generate().unwrap();
        let mut salt = [0u8; SALT_LEN];
        aws_lc_rs::rand::fill(&mut salt).unwrap();
        let (version, wrapped) = wrap::wrap(&key.public_key(), &content_key, content_id).unwrap();
        let header = ContentHeader::new(
            version,
            10,
            key.public_key().fingerprint(),
            content_id,
            salt,
            wrapped.clone(),
        )
        .unwrap();
        let mut sealed = Vec::new();
        seal_with_key(&mut plaintext.as_slice(), &mut sealed, &content_key, header).unwrap();
        if n == 2051 {
            three_chunks = sealed.clone();
        }
        vectors.push(json!({
            "name": name, "result": "ok", "chunk_size": 1024, "content_id": content_id,
            "content_key": hex::encode(content_key.expose()), "salt": hex::encode(salt),
            "wrapped_key": hex::encode(&wrapped), "plaintext": hex::encode(&plaintext),
            "sealed": hex::encode(&sealed),
        }));
    }
    let s = three_chunks;
    let h = ContentHeader::read_from(&mut s.as_slice())
        .unwrap()
        .to_bytes()
        .len();
    let full = 1024 + TAG_LEN;
    let flip = |at: usize| {
        let mut t = s.clone();
        t[at] ^= 1;
        t
    };
    let mut swapped = s.clone();
    swapped[h..h + 2 * full].rotate_left(full);
    let mut trailing = s.clone();
    trailing.push(0);
    for (name, result, sealed) in [
        ("bad magic", "not_sealed", flip(0)),
        ("unknown version", "not_sealed", flip(16)),
        ("content id changed", "header_altered", flip(60)),
        ("header MAC changed", "header_altered", flip(h - 1)),
        ("chunk 0 changed", "chunk_altered", flip(h + 5)),
        (
            "last chunk's tag changed",
            "chunk_altered",
            flip(s.len() - 1),
        ),
        ("chunks 0 and 1 swapped", "chunk_altered", swapped),
        (
            "cut after chunk 1",
            "chunk_altered",
            s[..h + 2 * full].to_vec(),
        ),
        ("no chunks at all", "truncated", s[..h].to_vec()),
        ("cut inside the header", "not_sealed", s[..h - 10].to_vec()),
        ("a byte after the last chunk", "chunk_altered", trailing),
    ] {
        assert_eq!(class(&open(key, &sealed).unwrap_err()), result, "{name}");
        vectors.push(json!({ "name": name, "result": result, "sealed": hex::encode(&sealed) }));
    }
    let (format, kind) = match key {
        PrivateKey::Rsa(_) => ("symbolon-content v1 (docs/content-format.md)", "RSA-2048"),
        PrivateKey::Ec(k) => (
            "symbolon-content v2, HPKE (docs/content-format.md §7)",
            k.curve().standard_name(),
        ),
    };
    let doc = json!({
        "format": format,
        "recipient_key": format!("{key_file} ({kind}, PKCS#8; a test key, never use it)"),
        "vectors": vectors,
    });
    std::fs::write(
        format!("{DIR}/{file}"),
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
    .unwrap();
}
