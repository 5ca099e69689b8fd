//! HPKE (RFC 9180), base mode, single shot: a short secret (a content key)
//! sealed to an elliptic-curve public key. The suites are DHKEM(P-256,
//! HKDF-SHA256), DHKEM(P-384, HKDF-SHA384) and DHKEM(X25519, HKDF-SHA256),
//! each with HKDF-SHA256 and AES-256-GCM (docs/content-format.md §7).
//!
//! Written here on aws-lc-rs's ECDH, HMAC, HKDF-Expand and AES-GCM rather
//! than taken from the `hpke` crate, for one measured reason: that crate's
//! decapsulation needs the recipient's private key in memory, while a
//! token — a PKCS#11 device above all — computes the Diffie-Hellman inside
//! and hands back only the shared secret. So the KEM is split at the DH:
//! [`open`] takes the DH as a closure. The output is byte-compatible with
//! OpenSSL's HPKE as pyca/cryptography exposes it (`enc ‖ ciphertext`),
//! which the test suite checks in both directions.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::{agreement, hkdf, hmac};
use zeroize::Zeroizing;

use super::{EcCurve, EcPublicKey, KeyError};

/// The KDF of the key schedule: HKDF-SHA256 (RFC 9180 §7.2).
const KDF_ID: u16 = 0x0001;
/// The AEAD: AES-256-GCM (RFC 9180 §7.3).
const AEAD_ID: u16 = 0x0002;
/// AES-256-GCM's key, nonce and tag lengths (Nk, Nn, Nt).
const NK: usize = 32;
const NN: usize = 12;
/// The AEAD tag.
pub const TAG_LEN: usize = 16;
/// The label prefix of every labelled extract and expand (RFC 9180 §4).
const VERSION_LABEL: &[u8] = b"HPKE-v1";

/// A DHKEM (RFC 9180 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kem {
    /// DHKEM(P-256, HKDF-SHA256), 0x0010.
    P256,
    /// DHKEM(P-384, HKDF-SHA384), 0x0011.
    P384,
    /// DHKEM(X25519, HKDF-SHA256), 0x0020.
    X25519,
}

impl Kem {
    /// The KEM for keys on `curve`; Ed25519 keys only sign.
    pub fn for_curve(curve: EcCurve) -> Result<Self, KeyError> {
        match curve {
            EcCurve::P256 => Ok(Self::P256),
            EcCurve::P384 => Ok(Self::P384),
            EcCurve::X25519 => Ok(Self::X25519),
            EcCurve::Ed25519 => Err(KeyError::UnsupportedKey(
                "an Ed25519 key only signs; seal to an RSA, P-256, P-384 or X25519 key".into(),
            )),
        }
    }

    /// The KEM by its registry number.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0010 => Some(Self::P256),
            0x0011 => Some(Self::P384),
            0x0020 => Some(Self::X25519),
            _ => None,
        }
    }

    /// Its registry number (RFC 9180 §7.1).
    pub const fn id(self) -> u16 {
        match self {
            Self::P256 => 0x0010,
            Self::P384 => 0x0011,
            Self::X25519 => 0x0020,
        }
    }

    /// The curve of its keys.
    pub const fn curve(self) -> EcCurve {
        match self {
            Self::P256 => EcCurve::P256,
            Self::P384 => EcCurve::P384,
            Self::X25519 => EcCurve::X25519,
        }
    }

    /// Nenc: the encapsulated key's length (an uncompressed point, or the
    /// 32-byte X25519 key).
    pub const fn enc_len(self) -> usize {
        match self {
            Self::P256 => 65,
            Self::P384 => 97,
            Self::X25519 => 32,
        }
    }

    /// The length of `enc ‖ ciphertext` for a plaintext of `n` bytes.
    pub const fn sealed_len(self, n: usize) -> usize {
        self.enc_len() + n + TAG_LEN
    }

    /// Reads an encapsulated key (RFC 9180 §7.1.1: an uncompressed point
    /// on P-256/P-384, the 32-byte X25519 key) as the recipient's token
    /// will use it: the length and form checked, the point validated (on
    /// the curve, not the identity, not of small order), so the DH never
    /// sees a point that is not a key.
    pub fn parse_enc(self, enc: &[u8]) -> Result<EcPublicKey, KeyError> {
        if enc.len() != self.enc_len() || (self != Self::X25519 && enc.first() != Some(&0x04)) {
            return Err(KeyError::Malformed {
                kind: "HPKE encapsulated key",
                reason: format!(
                    "a {} encapsulated key is {} bytes{}",
                    self.curve().standard_name(),
                    self.enc_len(),
                    if self == Self::X25519 {
                        ""
                    } else {
                        ", an uncompressed point (0x04…)"
                    }
                ),
            });
        }
        EcPublicKey::from_point(self.curve(), enc)
    }

    /// The KEM's own HKDF (Nsecret is its output length).
    fn kdf(self) -> Kdf {
        match self {
            Self::P384 => Kdf::Sha384,
            _ => Kdf::Sha256,
        }
    }

    fn agreement(self) -> &'static agreement::Algorithm {
        match self {
            Self::P256 => &agreement::ECDH_P256,
            Self::P384 => &agreement::ECDH_P384,
            Self::X25519 => &agreement::X25519,
        }
    }
}

/// An HKDF: its HMAC and its output length.
#[derive(Clone, Copy)]
enum Kdf {
    Sha256,
    Sha384,
}

impl Kdf {
    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }

    /// HKDF-Extract (RFC 5869 §2.2): HMAC keyed with the salt.
    fn extract(self, salt: &[u8], ikm: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        let alg = match self {
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha384 => hmac::HMAC_SHA384,
        };
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(alg, salt));
        for part in ikm {
            ctx.update(part);
        }
        Zeroizing::new(ctx.sign().as_ref().to_vec())
    }

    /// HKDF-Expand (RFC 5869 §2.3) to `len` bytes.
    fn expand(
        self,
        prk: &[u8],
        info: &[&[u8]],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let alg = match self {
            Self::Sha256 => hkdf::HKDF_SHA256,
            Self::Sha384 => hkdf::HKDF_SHA384,
        };
        let mut out = Zeroizing::new(vec![0u8; len]);
        hkdf::Prk::new_less_safe(alg, prk)
            .expand(info, Len(len))
            .and_then(|okm| okm.fill(&mut out))
            .map_err(|_| KeyError::Internal("HKDF-Expand"))?;
        Ok(out)
    }

    /// LabeledExtract (RFC 9180 §4).
    fn labeled_extract(
        self,
        suite_id: &[u8],
        salt: &[u8],
        label: &[u8],
        ikm: &[u8],
    ) -> Zeroizing<Vec<u8>> {
        self.extract(salt, &[VERSION_LABEL, suite_id, label, ikm])
    }

    /// LabeledExpand (RFC 9180 §4).
    fn labeled_expand(
        self,
        suite_id: &[u8],
        prk: &[u8],
        label: &[u8],
        info: &[u8],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let l = u16::try_from(len).map_err(|_| KeyError::Internal("HKDF length"))?;
        self.expand(
            prk,
            &[&l.to_be_bytes(), VERSION_LABEL, suite_id, label, info],
            len,
        )
    }
}

/// DHKEM's ExtractAndExpand (RFC 9180 §4.1): the KEM shared secret from
/// the DH output and `enc ‖ pkRm`.
fn extract_and_expand(
    kem: Kem,
    dh: &[u8],
    enc: &[u8],
    recipient: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut suite_id = b"KEM".to_vec();
    suite_id.extend_from_slice(&kem.id().to_be_bytes());
    let kdf = kem.kdf();
    let prk = kdf.labeled_extract(&suite_id, b"", b"eae_prk", dh);
    let mut context = enc.to_vec();
    context.extend_from_slice(recipient);
    kdf.labeled_expand(&suite_id, &prk, b"shared_secret", &context, kdf.len())
}

/// The base-mode key schedule (RFC 9180 §5.1): the AEAD key and the
/// nonce of the one message (sequence number 0: the base nonce).
fn schedule(
    kem: Kem,
    shared_secret: &[u8],
    info: &[u8],
) -> Result<(LessSafeKey, [u8; NN]), KeyError> {
    let mut suite_id = b"HPKE".to_vec();
    suite_id.extend_from_slice(&kem.id().to_be_bytes());
    suite_id.extend_from_slice(&KDF_ID.to_be_bytes());
    suite_id.extend_from_slice(&AEAD_ID.to_be_bytes());
    let kdf = Kdf::Sha256;
    let psk_id_hash = kdf.labeled_extract(&suite_id, b"", b"psk_id_hash", b"");
    let info_hash = kdf.labeled_extract(&suite_id, b"", b"info_hash", info);
    let mut context = vec![0u8]; // mode_base
    context.extend_from_slice(&psk_id_hash);
    context.extend_from_slice(&info_hash);
    let secret = kdf.labeled_extract(&suite_id, shared_secret, b"secret", b"");
    let key = kdf.labeled_expand(&suite_id, &secret, b"key", &context, NK)?;
    let base_nonce = kdf.labeled_expand(&suite_id, &secret, b"base_nonce", &context, NN)?;
    let unbound =
        UnboundKey::new(&AES_256_GCM, &key).map_err(|_| KeyError::Internal("AES-GCM key"))?;
    let mut nonce = [0u8; NN];
    nonce.copy_from_slice(&base_nonce);
    Ok((LessSafeKey::new(unbound), nonce))
}

/// Seals `plaintext` to `recipient` with `info` (and an empty AAD):
/// returns `enc ‖ ciphertext`.
pub fn seal(recipient: &EcPublicKey, info: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
    crate::self_test::ensure()?;
    let kem = Kem::for_curve(recipient.curve())?;
    let ephemeral =
        agreement::PrivateKey::generate(kem.agreement()).map_err(|_| KeyError::Generation)?;
    seal_with(kem, &ephemeral, recipient, info, plaintext)
}

fn seal_with(
    kem: Kem,
    ephemeral: &agreement::PrivateKey,
    recipient: &EcPublicKey,
    info: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let enc = ephemeral
        .compute_public_key()
        .map_err(|_| KeyError::Internal("HPKE ephemeral key"))?
        .as_ref()
        .to_vec();
    let dh = agreement::agree(
        ephemeral,
        agreement::UnparsedPublicKey::new(kem.agreement(), recipient.point()),
        KeyError::Internal("HPKE encapsulation"),
        |s| Ok(Zeroizing::new(s.to_vec())),
    )?;
    let shared = extract_and_expand(kem, &dh, &enc, recipient.point())?;
    let (key, nonce) = schedule(kem, &shared, info)?;
    // The plaintext (a content key) is copied to be sealed in place: the
    // copy is wiped if sealing fails.
    let mut out = Zeroizing::new(plaintext.to_vec());
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut *out)
        .map_err(|_| KeyError::Internal("AES-GCM seal"))?;
    let mut sealed = enc;
    sealed.extend_from_slice(&out);
    Ok(sealed)
}

/// Opens `enc ‖ ciphertext` sealed to `recipient` with `info`. `dh` is the
/// recipient's Diffie-Hellman with the encapsulated key (inside a token);
/// it is called only with a valid point on the recipient's curve.
pub fn open<E: From<KeyError>>(
    recipient: &EcPublicKey,
    info: &[u8],
    sealed: &[u8],
    dh: impl FnOnce(&EcPublicKey) -> Result<Zeroizing<Vec<u8>>, E>,
) -> Result<Zeroizing<Vec<u8>>, E> {
    crate::self_test::ensure().map_err(KeyError::from)?;
    let kem = Kem::for_curve(recipient.curve())?;
    if sealed.len() < kem.sealed_len(0) {
        return Err(KeyError::Malformed {
            kind: "HPKE ciphertext",
            reason: format!(
                "{} bytes, shorter than the {}-byte encapsulated key and the tag",
                sealed.len(),
                kem.enc_len()
            ),
        }
        .into());
    }
    let (enc, ciphertext) = sealed.split_at(kem.enc_len());
    // A point off the curve, or of small order, is refused here: the DH
    // never sees it.
    let ephemeral = kem.parse_enc(enc).map_err(|_| KeyError::DecryptionFailed)?;
    let secret = dh(&ephemeral)?;
    let shared = extract_and_expand(kem, &secret, enc, recipient.point())?;
    let (key, nonce) = schedule(kem, &shared, info)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let n = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
        .map_err(|_| KeyError::DecryptionFailed)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::EcPrivateKey;

    fn round_trip(curve: EcCurve) {
        let key = EcPrivateKey::generate(curve).unwrap();
        let sealed = seal(
            key.public_key(),
            b"info",
            b"the content key: 32 bytes long!!",
        )
        .unwrap();
        let kem = Kem::for_curve(curve).unwrap();
        assert_eq!(sealed.len(), kem.sealed_len(32));
        let opened =
            open::<KeyError>(key.public_key(), b"info", &sealed, |e| key.agree(e)).unwrap();
        assert_eq!(opened.as_slice(), b"the content key: 32 bytes long!!");
        // Another info, another key, a flipped byte: nothing opens.
        assert_eq!(
            open::<KeyError>(key.public_key(), b"infO", &sealed, |e| key.agree(e)).unwrap_err(),
            KeyError::DecryptionFailed
        );
        let other = EcPrivateKey::generate(curve).unwrap();
        assert!(
            open::<KeyError>(other.public_key(), b"info", &sealed, |e| other.agree(e)).is_err()
        );
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                open::<KeyError>(key.public_key(), b"info", &t, |e| key.agree(e)).is_err(),
                "{curve}: flip at {i}"
            );
        }
        assert!(matches!(
            open::<KeyError>(
                key.public_key(),
                b"info",
                &sealed[..kem.enc_len() + 15],
                |e| key.agree(e)
            ),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn each_kem_round_trips_and_refuses_the_rest() {
        for curve in EcCurve::AGREEMENT {
            round_trip(curve);
        }
        let ed = EcPrivateKey::generate(EcCurve::Ed25519).unwrap();
        assert!(matches!(
            seal(ed.public_key(), b"", b"k"),
            Err(KeyError::UnsupportedKey(_))
        ));
    }
}
