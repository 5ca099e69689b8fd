//! The checked-in test vectors of the sealed content format
//! (`crates/symbolon/tests/data/content/vectors.json`, described in
//! docs/content-format.md §6): each valid vector is recomputed byte for byte
//! from its content key, salt and wrapped key, and opened with the test
//! recipient key; each invalid one must fail with its named error.
//!
//! `cargo test -p symbolon --lib content::vectors::regenerate -- --ignored`
//! writes a fresh set (new random keys, so new bytes).

use serde_json::{json, Value};

use super::key::ContentKey;
use super::stream::seal_with_key;
use super::*;
use crate::keys::RsaPrivateKey;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/content");

fn recipient() -> RsaPrivateKey {
    let pem = std::fs::read(format!("{DIR}/recipient-TEST-ONLY.pem")).unwrap();
    RsaPrivateKey::import_pem(&pem).unwrap()
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

fn open(key: &RsaPrivateKey, sealed: &[u8]) -> Result<Vec<u8>, ContentError> {
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
    let key = recipient();
    let text = std::fs::read_to_string(format!("{DIR}/vectors.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 12);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let sealed = hex_field(v, "sealed");
        let expected = v["result"].as_str().unwrap();
        if expected != "ok" {
            let e = open(&key, &sealed).expect_err(name);
            assert_eq!(class(&e), expected, "{name}: {e}");
            continue;
        }
        let plaintext = hex_field(v, "plaintext");
        assert_eq!(open(&key, &sealed).unwrap(), plaintext, "{name}");
        // Recompute every byte from the vector's inputs.
        let content_key = ContentKey::from_unwrapped(&hex_field(v, "content_key")).unwrap();
        let wrapped = hex_field(v, "wrapped_key");
        assert_eq!(
            key.decrypt_oaep(&wrapped).unwrap().as_slice(),
            content_key.expose(),
            "{name}: the wrapped key unwraps to the content key"
        );
        let header = ContentHeader::new(
            v["chunk_size"].as_u64().unwrap().trailing_zeros() as u8,
            key.public_key().fingerprint(),
            v["content_id"].as_str().unwrap().parse().unwrap(),
            hex_field(v, "salt").try_into().unwrap(),
            wrapped,
        )
        .unwrap();
        let mut again = Vec::new();
        seal_with_key(&mut plaintext.as_slice(), &mut again, &content_key, header).unwrap();
        assert_eq!(again, sealed, "{name}: recomputed bytes differ");
    }
}

#[test]
#[ignore = "writes new vectors; run by hand"]
fn regenerate() {
    let key = recipient();
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
        let wrapped = key.public_key().encrypt_oaep(content_key.expose()).unwrap();
        let header = ContentHeader::new(
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
        assert_eq!(class(&open(&key, &sealed).unwrap_err()), result, "{name}");
        vectors.push(json!({ "name": name, "result": result, "sealed": hex::encode(&sealed) }));
    }
    let doc = json!({
        "format": "symbolon-content v1 (docs/content-format.md)",
        "recipient_key": "recipient-TEST-ONLY.pem (RSA-2048, PKCS#8; a test key, never use it)",
        "vectors": vectors,
    });
    std::fs::write(
        format!("{DIR}/vectors.json"),
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
    .unwrap();
}
