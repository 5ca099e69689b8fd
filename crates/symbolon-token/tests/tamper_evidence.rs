//! Tamper evidence of the sealed token file on disk: every single changed
//! byte (exhaustive over a small token, sampled over a large one), every
//! truncation, and swapped sealing keys are detected, every time. A file that
//! fails authentication under its own key is zeroised; a wrong key or a file
//! that is not a token is reported and left alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use symbolon::keys::RsaAlgorithm;
use symbolon::token::{SlotName, Token, TokenError, SEALED_HEADER_LEN};
use symbolon_token::file::{default_sealing_key_path, init_token, open_token};

fn make(dir: &Path, name: &str, slots: &[(&str, RsaAlgorithm)]) -> (Vec<u8>, Vec<u8>) {
    let path = dir.join(name);
    let key = default_sealing_key_path(&path);
    let mut t = init_token(&path, &key, None).unwrap();
    for (s, alg) in slots {
        t.generate(&SlotName::new(s).unwrap(), *alg).unwrap();
    }
    drop(t);
    (std::fs::read(&path).unwrap(), std::fs::read(&key).unwrap())
}

/// Writes `data` and `key` as a token in `dir`, opens it, and reports what happened.
fn open_variant(dir: &Path, data: &[u8], key: &[u8]) -> Result<(), TokenError> {
    let path = dir.join("v.tok");
    let key_path = default_sealing_key_path(&path);
    std::fs::write(&path, data).unwrap();
    std::fs::write(&key_path, key).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = open_token(&path, &key_path, Duration::ZERO).map(|_| ());
    if let Err(TokenError::Tampered { serial: Some(_) }) = &r {
        // Detected tampering under the right key zeroises: tombstone left, key gone.
        let left = std::fs::read(&path).unwrap();
        assert_eq!(
            left.len(),
            SEALED_HEADER_LEN,
            "tampered file was not zeroised"
        );
        assert!(!key_path.exists(), "sealing key survived zeroisation");
    }
    r
}

fn assert_detected(r: Result<(), TokenError>, what: &str) {
    match r {
        Ok(()) => panic!("{what}: a changed token opened"),
        Err(
            TokenError::Tampered { .. }
            | TokenError::WrongSealingKey { .. }
            | TokenError::NotAToken(_),
        ) => {}
        Err(e) => panic!("{what}: unexpected error {e:?}"),
    }
}

#[test]
fn every_byte_of_a_small_token_is_protected() {
    let d = tempfile::tempdir().unwrap();
    let (data, key) = make(d.path(), "small.tok", &[]);
    let scratch = tempfile::tempdir().unwrap();
    open_variant(scratch.path(), &data, &key).unwrap();
    for i in 0..data.len() {
        let mut b = data.clone();
        b[i] ^= [0x01, 0x80, 0xff][i % 3];
        assert_detected(open_variant(scratch.path(), &b, &key), &format!("byte {i}"));
    }
    for cut in [
        0,
        1,
        7,
        8,
        10,
        11,
        40,
        62,
        63,
        64,
        78,
        79,
        data.len() / 2,
        data.len() - 17,
        data.len() - 1,
    ] {
        let r = open_variant(scratch.path(), &data[..cut], &key);
        assert!(r.is_err(), "truncated to {cut} bytes opened");
    }
    let mut longer = data.clone();
    longer.push(0);
    assert_detected(open_variant(scratch.path(), &longer, &key), "appended byte");
}

#[test]
fn sampled_bytes_of_a_large_token_are_protected() {
    let d = tempfile::tempdir().unwrap();
    let (data, key) = make(
        d.path(),
        "large.tok",
        &[
            ("a", RsaAlgorithm::Rsa4096),
            ("b", RsaAlgorithm::Rsa3072),
            ("c", RsaAlgorithm::Rsa2048),
        ],
    );
    let scratch = tempfile::tempdir().unwrap();
    // A fixed-seed LCG: the positions are spread over the whole file and the
    // test is repeatable.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 0..400 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let i = (x >> 33) as usize % data.len();
        let mut b = data.clone();
        b[i] ^= ((x >> 8) as u8) | 1;
        assert_detected(
            open_variant(scratch.path(), &b, &key),
            &format!("sample {n}, byte {i}"),
        );
    }
    for k in 0..60 {
        let cut = data.len() * k / 60;
        assert!(
            open_variant(scratch.path(), &data[..cut], &key).is_err(),
            "truncated to {cut}"
        );
    }
}

#[test]
fn swapped_sealing_keys_are_told_apart_and_destroy_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (a, ka) = make(d.path(), "a.tok", &[]);
    let (b, kb) = make(d.path(), "b.tok", &[]);
    let scratch = tempfile::tempdir().unwrap();
    for (data, key) in [(&a, &kb), (&b, &ka)] {
        let r = open_variant(scratch.path(), data, key);
        assert!(
            matches!(r, Err(TokenError::WrongSealingKey { .. })),
            "{r:?}"
        );
        assert_eq!(
            &std::fs::read(scratch.path().join("v.tok")).unwrap(),
            data,
            "a wrong key must not destroy the token"
        );
    }
    // Swapping the sealed bodies between two tokens under one key fails too.
    let mut spliced = a[..SEALED_HEADER_LEN].to_vec();
    spliced.extend_from_slice(&b[SEALED_HEADER_LEN..]);
    assert_detected(open_variant(scratch.path(), &spliced, &ka), "spliced body");
}
