//! The content key and what is derived from it: the header MAC key and the
//! payload key (docs/content-format.md §3). A `ContentKey` exists only inside
//! a token's `open_content` and inside the sealer; nothing outside this crate
//! can construct or read one.

use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use aws_lc_rs::{hkdf, hmac};
use zeroize::Zeroizing;

use super::{ContentError, ContentHeader, MAC_LEN};

/// HKDF info for the header MAC key.
const HEADER_INFO: &[u8] = b"symbolon-content v1 header";
/// HKDF info for the payload key.
const PAYLOAD_INFO: &[u8] = b"symbolon-content v1 payload";
/// The content key's length.
pub(crate) const CONTENT_KEY_LEN: usize = 32;

/// A content key. No `Debug`, `Clone` or `Serialize`.
pub(crate) struct ContentKey(Zeroizing<[u8; CONTENT_KEY_LEN]>);

impl ContentKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Result<Self, ContentError> {
        let mut k = Zeroizing::new([0u8; CONTENT_KEY_LEN]);
        aws_lc_rs::rand::fill(k.as_mut()).map_err(|_| ContentError::Internal("random"))?;
        Ok(Self(k))
    }

    /// From an unwrapped key; anything but 32 bytes is refused.
    pub(crate) fn from_unwrapped(bytes: &[u8]) -> Result<Self, ContentError> {
        let k: [u8; CONTENT_KEY_LEN] = bytes.try_into().map_err(|_| {
            ContentError::InvalidInput("the unwrapped content key is not 32 bytes".into())
        })?;
        Ok(Self(Zeroizing::new(k)))
    }

    /// The raw key, only to wrap it to a recipient.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }

    fn derive(&self, salt: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>, ContentError> {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                32
            }
        }
        let mut out = Zeroizing::new([0u8; 32]);
        hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
            .extract(self.0.as_ref())
            .expand(&[info], Len)
            .and_then(|okm| okm.fill(out.as_mut()))
            .map_err(|_| ContentError::Internal("HKDF"))?;
        Ok(out)
    }

    fn mac_key(&self, header: &ContentHeader) -> Result<hmac::Key, ContentError> {
        let k = self.derive(header.salt(), HEADER_INFO)?;
        Ok(hmac::Key::new(hmac::HMAC_SHA256, k.as_ref()))
    }

    /// The header MAC the sealer writes.
    pub(crate) fn header_mac(&self, header: &ContentHeader) -> Result<[u8; MAC_LEN], ContentError> {
        let tag = hmac::sign(&self.mac_key(header)?, &header.authenticated_bytes());
        tag.as_ref()
            .try_into()
            .map_err(|_| ContentError::Internal("HMAC length"))
    }

    /// Checks the header MAC in constant time.
    pub(crate) fn verify_header(&self, header: &ContentHeader) -> Result<(), ContentError> {
        hmac::verify(
            &self.mac_key(header)?,
            &header.authenticated_bytes(),
            header.mac(),
        )
        .map_err(|_| ContentError::HeaderAltered)
    }

    /// The AES-256-GCM payload key.
    pub(crate) fn payload_key(&self, header: &ContentHeader) -> Result<LessSafeKey, ContentError> {
        let k = self.derive(header.salt(), PAYLOAD_INFO)?;
        let unbound = UnboundKey::new(&AES_256_GCM, k.as_ref())
            .map_err(|_| ContentError::Internal("AES-GCM key"))?;
        Ok(LessSafeKey::new(unbound))
    }
}
