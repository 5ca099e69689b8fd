//! Power-on self-tests and the module's error state (docs/design.md §2.6, modelled on
//! FIPS 140-3 §7.10).
//!
//! Before the first use of any algorithm in a process, every primitive the
//! token relies on is run against known answers from an independent
//! implementation: SHA-256, HMAC-SHA-256, HKDF-SHA-256, AES-256-GCM,
//! RSASSA-PKCS1-v1_5, RSAES-OAEP and ECDSA P-256. If any answer differs, the
//! module enters its error state and every later cryptographic call in this
//! process fails with [`SelfTestError`]; there is no way back but a restart.

use std::sync::OnceLock;

use aws_lc_rs::{aead, digest, hkdf, hmac, rsa, signature};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::self_test_vectors as v;

/// The module is in its error state.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error(
    "cryptographic self-test failed ({0}); the module is in its error state and refuses every \
     cryptographic operation until the process restarts"
)]
pub struct SelfTestError(pub &'static str);

static RESULT: OnceLock<Result<(), SelfTestError>> = OnceLock::new();
static FORCED: OnceLock<SelfTestError> = OnceLock::new();

/// Runs the self-tests once per process and returns their verdict; called at
/// the start of every cryptographic operation.
pub fn ensure() -> Result<(), SelfTestError> {
    if let Some(e) = FORCED.get() {
        return Err(e.clone());
    }
    RESULT.get_or_init(run_all).clone()
}

/// Takes the module offline for the rest of this process, as a failed
/// self-test would (an operator's kill switch, and how tests prove that the
/// error state refuses everything).
pub fn enter_error_state(reason: &'static str) {
    // Set once: a module already in the error state stays in it, with the
    // first reason (so a second call has nothing to do).
    let _already_offline = FORCED.set(SelfTestError(reason)).is_err();
}

/// Runs every known-answer test now, without touching the module state.
pub fn run_all() -> Result<(), SelfTestError> {
    sha256_kat()?;
    hmac_kat()?;
    hkdf_kat()?;
    aes_gcm_kat(&hex_of(v::GCM_CT))?;
    rsa_kat(&joined(v::RSA_PKCS1_SHA256_SIG))?;
    ecdsa_kat(&hex_of(v::EC_SIG))?;
    Ok(())
}

/// A vector's bytes. The vectors are constants of this crate (a test
/// decodes each); a broken one would decode to nothing and fail its
/// known-answer test, which fails safe: the module refuses to work.
fn hex_of(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

fn joined(parts: &[&str]) -> Vec<u8> {
    hex_of(&parts.concat())
}

fn check(ok: bool, what: &'static str) -> Result<(), SelfTestError> {
    if ok {
        Ok(())
    } else {
        Err(SelfTestError(what))
    }
}

fn sha256_kat() -> Result<(), SelfTestError> {
    // FIPS 180-2 appendix B.1.
    let d = digest::digest(&digest::SHA256, b"abc");
    check(
        d.as_ref()
            == hex_of("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .as_slice(),
        "SHA-256",
    )
}

fn hmac_kat() -> Result<(), SelfTestError> {
    // RFC 4231 test case 2.
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
    let tag = hmac::sign(&key, b"what do ya want for nothing?");
    check(
        tag.as_ref()
            == hex_of("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .as_slice(),
        "HMAC-SHA-256",
    )
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf_kat() -> Result<(), SelfTestError> {
    // RFC 5869 test case 1.
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, &hex_of("000102030405060708090a0b0c"));
    let prk = salt.extract(&[0x0b; 22]);
    let info = hex_of("f0f1f2f3f4f5f6f7f8f9");
    let mut okm = [0u8; 42];
    let ok = prk
        .expand(&[&info], Len(42))
        .and_then(|o| o.fill(&mut okm))
        .is_ok();
    check(
        ok && okm.as_slice()
            == hex_of(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            )
            .as_slice(),
        "HKDF-SHA-256",
    )
}

fn aes_gcm_kat(expected: &[u8]) -> Result<(), SelfTestError> {
    let key: Vec<u8> = (0u8..32).collect();
    let nonce: [u8; 12] = core::array::from_fn(|i| i as u8);
    let Ok(unbound) = aead::UnboundKey::new(&aead::AES_256_GCM, &key) else {
        return Err(SelfTestError("AES-256-GCM"));
    };
    let key = aead::LessSafeKey::new(unbound);
    let mut buf = b"symbolon gcm kat plaintext".to_vec();
    let sealed = key
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(b"symbolon aad"),
            &mut buf,
        )
        .is_ok();
    check(sealed && buf == expected, "AES-256-GCM encrypt")?;
    let opened = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(b"symbolon aad"),
            &mut buf,
        )
        .map(|p| p == b"symbolon gcm kat plaintext")
        .unwrap_or(false);
    check(opened, "AES-256-GCM decrypt")
}

fn rsa_kat(expected_sig: &[u8]) -> Result<(), SelfTestError> {
    let pkcs8 = Zeroizing::new(joined(v::RSA_PKCS8));
    let pair = signature::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| SelfTestError("RSA key"))?;
    let mut sig = vec![0u8; pair.public_modulus_len()];
    let signed = pair
        .sign(
            &signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            &hex_of(v::MESSAGE),
            &mut sig,
        )
        .is_ok();
    check(signed && sig == expected_sig, "RSASSA-PKCS1-v1_5 sign")?;
    let public = signature::KeyPair::public_key(&pair);
    let verified =
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public.as_ref())
            .verify(&hex_of(v::MESSAGE), expected_sig)
            .is_ok();
    check(verified, "RSASSA-PKCS1-v1_5 verify")?;

    let dec = rsa::PrivateDecryptingKey::from_pkcs8(&pkcs8)
        .ok()
        .and_then(|k| rsa::OaepPrivateDecryptingKey::new(k).ok())
        .ok_or(SelfTestError("RSA decryption key"))?;
    let mut out = Zeroizing::new(vec![0u8; dec.min_output_size()]);
    let pt_ok = dec
        .decrypt(
            &rsa::OAEP_SHA256_MGF1SHA256,
            &joined(v::RSA_OAEP_CT),
            &mut out,
            None,
        )
        .map(|p| p == b"symbolon oaep kat")
        .unwrap_or(false);
    check(pt_ok, "RSAES-OAEP decrypt")
}

fn ecdsa_kat(sig: &[u8]) -> Result<(), SelfTestError> {
    let ok =
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, hex_of(v::EC_SPKI))
            .verify(&hex_of(v::MESSAGE), sig)
            .is_ok();
    check(ok, "ECDSA P-256 verify")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_known_answers_pass() {
        run_all().unwrap();
        ensure().unwrap();
    }

    #[test]
    fn a_wrong_answer_is_caught() {
        let mut sig = joined(v::RSA_PKCS1_SHA256_SIG);
        sig[5] ^= 1;
        assert_eq!(rsa_kat(&sig), Err(SelfTestError("RSASSA-PKCS1-v1_5 sign")));
        let mut ct = hex_of(v::GCM_CT);
        ct[0] ^= 1;
        assert_eq!(aes_gcm_kat(&ct), Err(SelfTestError("AES-256-GCM encrypt")));
        let mut es = hex_of(v::EC_SIG);
        let last = es.len() - 1;
        es[last] ^= 1;
        assert!(ecdsa_kat(&es).is_err());
    }
}
