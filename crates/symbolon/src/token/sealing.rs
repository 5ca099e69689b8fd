//! The sealed at-rest format: one file, AES-256-GCM under a sealing key kept
//! apart from it.
//!
//! ```text
//! offset  len  field
//! 0       8    magic: "SYMBTOKN" (token) or "SYMBISSR" (issuer identity)
//! 8       2    format version (1), big-endian
//! 10      1    kind: 1 = live, 2 = tombstone (zeroised after tamper)
//! 11      16   serial
//! 27      8    monotonic write counter, big-endian
//! 35      16   key check value: HKDF(sealing key, "key-check")[..16]
//! 51      12   AES-GCM nonce (random per write)
//! 63      ..   ciphertext || 16-byte tag       (absent in a tombstone)
//! ```
//!
//! The whole 63-byte header is the AEAD's associated data, so no header field
//! (counter, serial, version) can be changed without detection. The key check
//! value tells a wrong sealing key apart from tampering, so that pointing at
//! the wrong key file never destroys a token; it is derived through HKDF and
//! reveals nothing about the key. AEAD and check keys are both derived from
//! the sealing key, never the sealing key itself.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::hkdf;
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use super::{TokenError, TokenSerial};
use crate::keys::random_bytes;
use crate::pem;

/// Length of the sealed header.
pub const SEALED_HEADER_LEN: usize = 63;
const VERSION: u16 = 1;
const KIND_LIVE: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
const TAG_LEN: usize = 16;
const KEY_FILE_LABEL: &str = "SYMBOLON SEALING KEY";

/// What a sealed file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// A token's state.
    Token,
    /// An issuer's identity key.
    Issuer,
    /// An escrow arbitrator's identity (share and approval keys).
    Arbitrator,
}

impl SealedKind {
    fn magic(self) -> &'static [u8; 8] {
        match self {
            Self::Token => b"SYMBTOKN",
            Self::Issuer => b"SYMBISSR",
            Self::Arbitrator => b"SYMBARBT",
        }
    }
}

/// The 32-byte key that seals a token's state. No `Debug`, `Clone`,
/// `Serialize`; zeroised on drop.
pub struct SealingKey(SecretBox<[u8; 32]>);

impl SealingKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, TokenError> {
        let mut k = Box::new([0u8; 32]);
        random_bytes(k.as_mut())?;
        Ok(Self(SecretBox::new(k)))
    }

    /// Reads the key file format (PEM `SYMBOLON SEALING KEY`).
    pub fn from_key_file(text: &[u8]) -> Result<Self, TokenError> {
        let (_, der) = pem::decode_secret(text, &[KEY_FILE_LABEL])
            .map_err(|e| TokenError::InvalidInput(format!("sealing key file: {e}")))?;
        if der.len() != 32 {
            return Err(TokenError::InvalidInput(
                "sealing key file: the key must be 32 bytes".into(),
            ));
        }
        let mut k = Box::new([0u8; 32]);
        k.copy_from_slice(&der);
        Ok(Self(SecretBox::new(k)))
    }

    /// The key file's contents, to be written with mode 0600 by the caller.
    pub fn to_key_file(&self) -> Zeroizing<String> {
        pem::encode_secret(KEY_FILE_LABEL, self.0.expose_secret())
    }

    fn derive(&self, info: &[u8], out: &mut [u8]) -> Result<(), TokenError> {
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"symbolon sealing v1")
            .extract(self.0.expose_secret())
            .expand(&[info], Len(out.len()))
            .and_then(|okm| okm.fill(out))
            .map_err(|_| TokenError::Key(crate::keys::KeyError::Internal("HKDF")))
    }

    fn check_value(&self) -> Result<[u8; 16], TokenError> {
        let mut kcv = [0u8; 16];
        self.derive(b"key-check", &mut kcv)?;
        Ok(kcv)
    }

    fn aead_key(&self) -> Result<LessSafeKey, TokenError> {
        let mut k = Zeroizing::new([0u8; 32]);
        self.derive(b"aead", k.as_mut())?;
        let unbound = UnboundKey::new(&AES_256_GCM, k.as_ref())
            .map_err(|_| TokenError::Key(crate::keys::KeyError::Internal("AES-GCM key")))?;
        Ok(LessSafeKey::new(unbound))
    }
}

/// The clear header of a sealed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedHeader {
    /// What it holds.
    pub kind: SealedKind,
    /// The serial.
    pub serial: TokenSerial,
    /// The write counter.
    pub counter: u64,
    /// Whether this is a tombstone.
    pub tombstone: bool,
}

/// Seals `plaintext`.
pub(crate) fn seal(
    kind: SealedKind,
    serial: TokenSerial,
    counter: u64,
    plaintext: &[u8],
    key: &SealingKey,
) -> Result<Vec<u8>, TokenError> {
    crate::self_test::ensure().map_err(crate::keys::KeyError::from)?;
    let mut nonce = [0u8; 12];
    random_bytes(&mut nonce)?;
    let mut out = header(
        kind,
        KIND_LIVE,
        serial,
        counter,
        &key.check_value()?,
        &nonce,
    );
    let aad = out.clone();
    let mut body = Zeroizing::new(plaintext.to_vec());
    let tag = key
        .aead_key()?
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut body,
        )
        .map_err(|_| TokenError::Key(crate::keys::KeyError::Internal("AES-GCM seal")))?;
    out.extend_from_slice(&body);
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// The tombstone that replaces a zeroised file: the header alone, marked dead.
pub(crate) fn tombstone(kind: SealedKind, serial: TokenSerial, counter: u64) -> Vec<u8> {
    header(kind, KIND_TOMBSTONE, serial, counter, &[0; 16], &[0; 12])
}

fn header(
    kind: SealedKind,
    state: u8,
    serial: TokenSerial,
    counter: u64,
    kcv: &[u8; 16],
    nonce: &[u8; 12],
) -> Vec<u8> {
    let mut h = Vec::with_capacity(SEALED_HEADER_LEN + 4096);
    h.extend_from_slice(kind.magic());
    h.extend_from_slice(&VERSION.to_be_bytes());
    h.push(state);
    h.extend_from_slice(serial.as_bytes());
    h.extend_from_slice(&counter.to_be_bytes());
    h.extend_from_slice(kcv);
    h.extend_from_slice(nonce);
    h
}

/// Reads the clear header. A file that does not start with the magic is not
/// ours; one that does but is cut short is treated as tampered.
pub fn read_header(kind: SealedKind, data: &[u8]) -> Result<SealedHeader, TokenError> {
    let magic = kind.magic();
    let prefix = data.len().min(magic.len());
    if data.len() < magic.len() && data[..prefix] == magic[..prefix] && !data.is_empty() {
        return Err(TokenError::Tampered { serial: None });
    }
    if data.len() < magic.len() || &data[..8] != magic {
        return Err(TokenError::NotAToken(match kind {
            SealedKind::Token => "the file does not start with the symbolon token magic".into(),
            SealedKind::Issuer => "the file does not start with the symbolon issuer magic".into(),
            SealedKind::Arbitrator => {
                "the file does not start with the symbolon arbitrator magic".into()
            }
        }));
    }
    if data.len() < 11 {
        return Err(TokenError::Tampered { serial: None });
    }
    let version = u16::from_be_bytes([data[8], data[9]]);
    if version != VERSION {
        return Err(TokenError::NotAToken(format!(
            "format version {version} is not one this symbolon reads (it reads {VERSION})"
        )));
    }
    let tombstone = match data[10] {
        KIND_LIVE => false,
        KIND_TOMBSTONE => true,
        other => {
            return Err(TokenError::NotAToken(format!("unknown state byte {other}")));
        }
    };
    if data.len() < SEALED_HEADER_LEN {
        return Err(TokenError::Tampered { serial: None });
    }
    let mut serial = [0u8; 16];
    serial.copy_from_slice(&data[11..27]);
    let mut counter = [0u8; 8];
    counter.copy_from_slice(&data[27..35]);
    Ok(SealedHeader {
        kind,
        serial: TokenSerial::from_bytes(serial),
        counter: u64::from_be_bytes(counter),
        tombstone,
    })
}

/// The outcome of a failed open that the caller must act on.
pub(crate) enum OpenFailure {
    /// Not ours, wrong key, unsupported: report, change nothing.
    Refuse(TokenError),
    /// Authentication failed under the right key: tampering. Zeroise.
    Tampered(SealedHeader),
}

/// Opens a sealed file: header, key check, then AEAD.
pub(crate) fn open(
    kind: SealedKind,
    data: &[u8],
    key: &SealingKey,
) -> Result<(SealedHeader, Zeroizing<Vec<u8>>), OpenFailure> {
    let header = read_header(kind, data).map_err(OpenFailure::Refuse)?;
    if header.tombstone {
        return Err(OpenFailure::Refuse(TokenError::Tampered {
            serial: Some(header.serial),
        }));
    }
    let kcv = key.check_value().map_err(OpenFailure::Refuse)?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(&kcv, &data[35..51]).is_err() {
        return Err(OpenFailure::Refuse(TokenError::WrongSealingKey {
            serial: header.serial,
        }));
    }
    if data.len() < SEALED_HEADER_LEN + TAG_LEN {
        return Err(OpenFailure::Tampered(header));
    }
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&data[51..63]);
    let aead = key.aead_key().map_err(OpenFailure::Refuse)?;
    let mut body = Zeroizing::new(data[SEALED_HEADER_LEN..].to_vec());
    let len = aead
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&data[..SEALED_HEADER_LEN]),
            &mut body,
        )
        .map_err(|_| OpenFailure::Tampered(header))?
        .len();
    body.truncate(len);
    Ok((header, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_kind(r: Result<(SealedHeader, Zeroizing<Vec<u8>>), OpenFailure>) -> &'static str {
        match r {
            Ok(_) => "opened",
            Err(OpenFailure::Tampered(_)) => "tampered",
            Err(OpenFailure::Refuse(TokenError::WrongSealingKey { .. })) => "wrong-key",
            Err(OpenFailure::Refuse(TokenError::Tampered { .. })) => "tampered",
            Err(OpenFailure::Refuse(_)) => "refused",
        }
    }

    #[test]
    fn every_single_byte_change_is_detected() {
        let key = SealingKey::generate().unwrap();
        let serial = TokenSerial::random().unwrap();
        let sealed = seal(SealedKind::Token, serial, 7, b"state bytes", &key).unwrap();
        let (h, pt) = open(SealedKind::Token, &sealed, &key).ok().unwrap();
        assert_eq!((h.counter, pt.as_slice()), (7, b"state bytes".as_slice()));
        for i in 0..sealed.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = sealed.clone();
                b[i] ^= flip;
                assert_ne!(
                    fail_kind(open(SealedKind::Token, &b, &key)),
                    "opened",
                    "byte {i}"
                );
            }
        }
        for cut in 0..sealed.len() {
            let k = fail_kind(open(SealedKind::Token, &sealed[..cut], &key));
            assert!(
                k == "tampered" || (cut == 0 && k == "refused"),
                "cut {cut}: {k}"
            );
        }
    }

    #[test]
    fn wrong_key_is_told_apart_and_kinds_do_not_mix() {
        let key = SealingKey::generate().unwrap();
        let serial = TokenSerial::random().unwrap();
        let sealed = seal(SealedKind::Token, serial, 1, b"x", &key).unwrap();
        let other = SealingKey::generate().unwrap();
        assert_eq!(
            fail_kind(open(SealedKind::Token, &sealed, &other)),
            "wrong-key"
        );
        assert_eq!(
            fail_kind(open(SealedKind::Issuer, &sealed, &key)),
            "refused"
        );
        let t = tombstone(SealedKind::Token, serial, 2);
        assert_eq!(fail_kind(open(SealedKind::Token, &t, &key)), "tampered");
    }

    #[test]
    fn key_file_round_trip() {
        let key = SealingKey::generate().unwrap();
        let again = SealingKey::from_key_file(key.to_key_file().as_bytes()).unwrap();
        assert_eq!(key.check_value().unwrap(), again.check_value().unwrap());
        assert!(SealingKey::from_key_file(
            b"-----BEGIN SYMBOLON SEALING KEY-----\nAAAA\n-----END SYMBOLON SEALING KEY-----\n"
        )
        .is_err());
    }
}
