//! Single-use enrollment codes: `admin grant` makes one for a role and a
//! name; whoever holds it may enroll one credential under them, once, before
//! it expires. The service keeps only the code's digest.

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
}
