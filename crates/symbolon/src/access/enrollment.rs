//! Single-use enrollment codes: `admin grant` makes one for a role and a
//! name; whoever holds it may enroll one credential under them, once, before
//! it expires. The service keeps only the code's digest.
//!
//! A registration's code (EST, CMP) is derived from the service's
//! enrollment key and the registration's ID: CMP's MAC needs the secret
//! itself at the service (RFC 4211 §4.4), and deriving it again from the
//! reference the client sends means the registry never holds it.

use aws_lc_rs::hmac;
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use super::AccessError;
use crate::keys::{HashAlgorithm, MessageDigest};

/// How long a code may be used.
pub const ENROLLMENT_VALIDITY_SECS: i64 = 24 * 3600;

/// Random bytes in a code: 128 bits, far beyond guessing within its
/// lifetime and the service's rate limits.
const CODE_BYTES: usize = 16;

/// An enrollment code (a bearer secret: no `Debug`, no `Display`).
pub struct EnrollmentCode(Zeroizing<[u8; CODE_BYTES]>);

impl EnrollmentCode {
    /// A new random code.
    pub fn generate() -> Result<Self, AccessError> {
        let mut b = Zeroizing::new([0u8; CODE_BYTES]);
        crate::keys::random_bytes(b.as_mut()).map_err(|e| AccessError::Random(e.to_string()))?;
        Ok(Self(b))
    }

    /// Parses a code as printed (hex in groups of four; dashes, spaces and
    /// case are ignored).
    pub fn parse(text: &str) -> Result<Self, AccessError> {
        let digits: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| *c != '-' && !c.is_whitespace())
                .collect(),
        );
        if digits.len() != CODE_BYTES * 2 {
            return Err(AccessError::BadCode);
        }
        let mut b = Zeroizing::new([0u8; CODE_BYTES]);
        hex::decode_to_slice(digits.as_bytes(), b.as_mut()).map_err(|_| AccessError::BadCode)?;
        Ok(Self(b))
    }

    /// The code as a person types it: `xxxx-xxxx-…`.
    pub fn reveal(&self) -> Zeroizing<String> {
        let h = Zeroizing::new(hex::encode(self.0.as_ref()));
        let mut out = Zeroizing::new(String::with_capacity(40));
        for (i, c) in h.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// What the service stores and looks the code up by: SHA-256 of its
    /// bytes, hex. (A lookup by digest leaks nothing of the code.)
    pub fn digest(&self) -> String {
        hex::encode(MessageDigest::of(HashAlgorithm::Sha256, self.0.as_ref()).as_bytes())
    }
}

/// PEM label of the enrollment key file.
const KEY_FILE_LABEL: &str = "SYMBOLON ENROLLMENT KEY";

/// The service's key that registrations' codes are derived from (HMAC-SHA256
/// keyed by it, over the registration ID). No `Debug`, `Clone`,
/// `Serialize`; zeroised on drop.
pub struct EnrollmentKey(SecretBox<[u8; 32]>);

impl EnrollmentKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, AccessError> {
        let mut k = Box::new([0u8; 32]);
        crate::keys::random_bytes(k.as_mut()).map_err(|e| AccessError::Random(e.to_string()))?;
        Ok(Self(SecretBox::new(k)))
    }

    /// Reads the key file (PEM `SYMBOLON ENROLLMENT KEY`, 32 bytes).
    pub fn from_key_file(text: &[u8]) -> Result<Self, AccessError> {
        let (_, der) = crate::pem::decode_secret(text, &[KEY_FILE_LABEL])
            .map_err(|e| AccessError::KeyFile(e.to_string()))?;
        let bytes: [u8; 32] = der
            .as_slice()
            .try_into()
            .map_err(|_| AccessError::KeyFile("the key must be 32 bytes".into()))?;
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// The key file's contents, to be written with mode 0600.
    pub fn to_key_file(&self) -> Zeroizing<String> {
        crate::pem::encode_secret(KEY_FILE_LABEL, self.0.expose_secret())
    }

    /// The code of the registration `id`.
    pub fn code_for(&self, id: &str) -> EnrollmentCode {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.expose_secret());
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(b"symbolon/enrollment-code/v1\0");
        ctx.update(id.as_bytes());
        let tag = ctx.sign();
        let mut b = Zeroizing::new([0u8; CODE_BYTES]);
        b.copy_from_slice(&tag.as_ref()[..CODE_BYTES]);
        EnrollmentCode(b)
    }

    /// The HMAC key of the ACME external account binding `kid`
    /// (docs/acme.md): derived like a code, under its own label, so the
    /// registry holds only the kid.
    pub fn eab_key_for(&self, kid: &str) -> EabKey {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.expose_secret());
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(b"symbolon/acme-eab-key/v1\0");
        ctx.update(kid.as_bytes());
        let tag = ctx.sign();
        let mut b = Zeroizing::new([0u8; 32]);
        b.copy_from_slice(tag.as_ref());
        EabKey(b)
    }
}

/// An ACME external account binding's HMAC key (a bearer secret: no
/// `Debug`, no `Display`; zeroised on drop).
pub struct EabKey(Zeroizing<[u8; 32]>);

impl EabKey {
    /// The key's bytes, for the HMAC.
    pub fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// The key as ACME clients take it: base64url without padding
    /// (certbot `--eab-hmac-key`, lego `--hmac`).
    pub fn reveal(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_digest() {
        let c = EnrollmentCode::generate().unwrap();
        let shown = c.reveal();
        assert_eq!(shown.len(), 39);
        let back = EnrollmentCode::parse(&shown.to_uppercase()).unwrap();
        assert_eq!(back.digest(), c.digest());
        assert_ne!(EnrollmentCode::generate().unwrap().digest(), c.digest());
        assert!(!c.digest().contains(&shown.replace('-', "")));
        for bad in ["", "abcd", &"g".repeat(32), &"a".repeat(34)] {
            assert!(EnrollmentCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_derived_code_depends_on_the_key_and_the_registration() {
        let k = EnrollmentKey::generate().unwrap();
        let again = EnrollmentKey::from_key_file(k.to_key_file().as_bytes()).unwrap();
        assert_eq!(k.code_for("r1").digest(), again.code_for("r1").digest());
        assert_ne!(k.code_for("r1").digest(), k.code_for("r2").digest());
        let other = EnrollmentKey::generate().unwrap();
        assert_ne!(k.code_for("r1").digest(), other.code_for("r1").digest());
        assert!(EnrollmentKey::from_key_file(b"junk").is_err());
    }

    #[test]
    fn eab_keys_depend_on_the_kid_and_differ_from_codes() {
        let k = EnrollmentKey::generate().unwrap();
        assert_eq!(k.eab_key_for("a").expose(), k.eab_key_for("a").expose());
        assert_ne!(k.eab_key_for("a").expose(), k.eab_key_for("b").expose());
        assert_ne!(
            &k.eab_key_for("a").expose()[..16],
            k.code_for("a").0.as_ref()
        );
        assert_eq!(k.eab_key_for("a").reveal().len(), 43);
    }
}
