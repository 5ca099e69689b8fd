//! Project Wycheproof vectors against symbolon's RSA layer.
//!
//! Reads every vector file of a supported schema from `SYMBOLON_WYCHEPROOF_DIR`
//! (default `../shared/testdata/wycheproof/testvectors_v1` beside the
//! repository), any key size, so new files need no code change.
//!
//! Policies stated here, each checked:
//! * `acceptable` PKCS#1 v1.5 verification cases (e.g. a DigestInfo without the
//!   NULL parameter) are **rejected**: symbolon accepts only the DER encoding.
//! * Signing vectors whose key or hash symbolon does not offer (under 2048
//!   bits, SHA-1/SHA-224, e < 65537) are refused at key import or scheme
//!   choice; every other signing vector must give the exact signature bytes.
//! * RSAES-OAEP with a non-empty label: symbolon's OAEP uses no label, so such
//!   a ciphertext must fail to decrypt under it.
//! * RSAES-PKCS1-v1_5 ciphertexts: symbolon offers OAEP only, so every one,
//!   valid or not, must fail with one and the same error (no padding oracle).
//! * AEAD files (`aead_test_schema_v1`) are not an RSA schema; the sealed
//!   format's AES-256-GCM is covered by the self-test KAT and its own tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;
use symbolon::keys::{
    HashAlgorithm, KeyError, MessageDigest, RsaPrivateKey, RsaPublicKey, SignatureScheme,
};

fn vector_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SYMBOLON_WYCHEPROOF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/testdata/wycheproof/testvectors_v1")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "Wycheproof vectors not found at {} and SYMBOLON_REQUIRE_PEERS=1",
            dir.display()
        );
    }
    eprintln!("skipping: no Wycheproof vectors at {}", dir.display());
    None
}

fn files_with_schema(schema: &str) -> Vec<(String, Value)> {
    let Some(dir) = vector_dir() else {
        return vec![];
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if v["schema"].as_str() == Some(schema) {
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out
}

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn hash_of(name: &str) -> Option<HashAlgorithm> {
    match name {
        "SHA-256" => Some(HashAlgorithm::Sha256),
        "SHA-384" => Some(HashAlgorithm::Sha384),
        "SHA-512" => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

fn pkcs1_scheme(h: HashAlgorithm) -> SignatureScheme {
    match h {
        HashAlgorithm::Sha256 => SignatureScheme::Pkcs1Sha256,
        HashAlgorithm::Sha384 => SignatureScheme::Pkcs1Sha384,
        HashAlgorithm::Sha512 => SignatureScheme::Pkcs1Sha512,
    }
}

fn pss_scheme(h: HashAlgorithm) -> SignatureScheme {
    match h {
        HashAlgorithm::Sha256 => SignatureScheme::PssSha256,
        HashAlgorithm::Sha384 => SignatureScheme::PssSha384,
        HashAlgorithm::Sha512 => SignatureScheme::PssSha512,
    }
}

struct Tally {
    checked: usize,
}

#[test]
fn rsassa_pkcs1_verify() {
    let mut t = Tally { checked: 0 };
    for (file, v) in files_with_schema("rsassa_pkcs1_verify_schema_v1.json") {
        for g in v["testGroups"].as_array().unwrap() {
            let Some(h) = hash_of(g["sha"].as_str().unwrap()) else {
                continue;
            };
            let key = RsaPublicKey::from_der(&hex(&g["publicKeyDer"])).unwrap();
            for tc in g["tests"].as_array().unwrap() {
                let ok = key
                    .verify(pkcs1_scheme(h), &hex(&tc["msg"]), &hex(&tc["sig"]))
                    .is_ok();
                let expected = tc["result"] == "valid";
                assert_eq!(
                    ok, expected,
                    "{file} tcId {} ({})",
                    tc["tcId"], tc["comment"]
                );
                t.checked += 1;
            }
        }
    }
    if vector_dir().is_some() {
        assert!(
            t.checked > 500,
            "only {} PKCS#1 verification vectors ran",
            t.checked
        );
    }
}

#[test]
fn rsassa_pss_verify() {
    let mut checked = 0;
    for (file, v) in files_with_schema("rsassa_pss_verify_schema_v1.json") {
        for g in v["testGroups"].as_array().unwrap() {
            let h = hash_of(g["sha"].as_str().unwrap());
            let mgf_same = g["mgfSha"] == g["sha"];
            let salt_is_hash_len = h.map(|h| g["sLen"].as_u64() == Some(h.output_len() as u64));
            let (Some(h), true, Some(true)) = (h, mgf_same, salt_is_hash_len) else {
                // symbolon's PSS is MGF1 with the same hash and a hash-length
                // salt; other parameter sets are not offered.
                continue;
            };
            let key = RsaPublicKey::from_der(&hex(&g["publicKeyDer"])).unwrap();
            for tc in g["tests"].as_array().unwrap() {
                let ok = key
                    .verify(pss_scheme(h), &hex(&tc["msg"]), &hex(&tc["sig"]))
                    .is_ok();
                assert_eq!(
                    ok,
                    tc["result"] == "valid",
                    "{file} tcId {} ({})",
                    tc["tcId"],
                    tc["comment"]
                );
                checked += 1;
            }
        }
    }
    if vector_dir().is_some() {
        assert!(checked >= 100, "only {checked} PSS vectors ran");
    }
}

#[test]
fn rsassa_pkcs1_generate() {
    let (mut exact, mut refused) = (0, 0);
    for (file, v) in files_with_schema("rsassa_pkcs1_generate_schema_v1.json") {
        for g in v["testGroups"].as_array().unwrap() {
            let pem = g["privateKeyPem"].as_str().unwrap();
            let key = RsaPrivateKey::import_pem(pem.as_bytes());
            let h = hash_of(g["sha"].as_str().unwrap());
            let (Ok(key), Some(h)) = (key, h) else {
                // Outside policy: a small or weak key is refused at import,
                // SHA-1/SHA-224 has no scheme.
                if let Err(e) = RsaPrivateKey::import_pem(pem.as_bytes()) {
                    assert!(matches!(e, KeyError::Refused(_)), "{file}: {e}");
                }
                refused += g["tests"].as_array().unwrap().len();
                continue;
            };
            for tc in g["tests"].as_array().unwrap() {
                let d = MessageDigest::of(h, &hex(&tc["msg"]));
                let sig = key.sign_digest(pkcs1_scheme(h), &d).unwrap();
                assert_eq!(sig, hex(&tc["sig"]), "{file} tcId {}", tc["tcId"]);
                exact += 1;
            }
        }
    }
    if vector_dir().is_some() {
        assert!(
            exact >= 10,
            "only {exact} signing vectors ran ({refused} refused by policy)"
        );
    }
}

#[test]
fn rsaes_oaep_decrypt() {
    let mut checked = 0;
    for (file, v) in files_with_schema("rsaes_oaep_decrypt_schema_v1.json") {
        for g in v["testGroups"].as_array().unwrap() {
            if g["sha"] != "SHA-256" || g["mgfSha"] != "SHA-256" {
                continue; // symbolon decrypts OAEP-SHA256 with MGF1-SHA256 only
            }
            let key =
                RsaPrivateKey::import_pem(g["privateKeyPem"].as_str().unwrap().as_bytes()).unwrap();
            for tc in g["tests"].as_array().unwrap() {
                let label = hex(&tc["label"]);
                let result = key.decrypt_oaep(&hex(&tc["ct"]));
                let id = format!("{file} tcId {} ({})", tc["tcId"], tc["comment"]);
                if tc["result"] == "valid" && label.is_empty() {
                    assert_eq!(
                        result.unwrap().as_slice(),
                        hex(&tc["msg"]).as_slice(),
                        "{id}"
                    );
                } else {
                    assert_eq!(result.map(|_| ()), Err(KeyError::DecryptionFailed), "{id}");
                }
                checked += 1;
            }
        }
    }
    if vector_dir().is_some() {
        assert!(checked >= 30, "only {checked} OAEP vectors ran");
    }
}

#[test]
fn rsaes_pkcs1_ciphertexts_are_all_refused_alike() {
    let mut checked = 0;
    for (file, v) in files_with_schema("rsaes_pkcs1_decrypt_schema_v1.json") {
        for g in v["testGroups"].as_array().unwrap() {
            let Ok(key) =
                RsaPrivateKey::import_pem(g["privateKeyPem"].as_str().unwrap().as_bytes())
            else {
                continue;
            };
            for tc in g["tests"].as_array().unwrap() {
                assert_eq!(
                    key.decrypt_oaep(&hex(&tc["ct"])).map(|_| ()),
                    Err(KeyError::DecryptionFailed),
                    "{file} tcId {}",
                    tc["tcId"]
                );
                checked += 1;
            }
        }
    }
    if vector_dir().is_some() {
        assert!(checked >= 60, "only {checked} PKCS#1 v1.5 ciphertexts ran");
    }
}
