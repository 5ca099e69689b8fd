//! Content protection, the sixth embodiment (FIG. 22, 23): separate keys for
//! signing purchases and for decrypting what was bought.
//!
//! - [`stream`]: the sealed content format — a header naming the recipient
//!   key and the content, the content key wrapped to the recipient
//!   ([`wrap`]: RSA-OAEP-SHA-256, or HPKE to a P-256, P-384 or X25519 key),
//!   a header MAC, then AES-256-GCM chunks under the STREAM construction. Sealing needs only a public key; opening happens inside
//!   the token holding the recipient key ([`crate::token::Token::open_content`]).
//! - [`order`]: a purchase order signed by the user's purchase-signing key.
//! - [`licence`]: the owner's answer, the content key wrapped to the buyer's
//!   token decryption key.
//!
//! The byte-level format is in `docs/content-format.md`; its test vectors are
//! in `crates/symbolon/tests/data/content/`.

mod error;
mod header;
mod key;
pub mod licence;
pub mod order;
pub mod stream;
#[cfg(test)]
mod vectors;
pub mod wrap;

pub use error::ContentError;
pub use header::{
    ContentHeader, ContentId, CHUNK_LOG2_RANGE, DEFAULT_CHUNK_LOG2, MAC_LEN, MAGIC, SALT_LEN,
    TAG_LEN, VERSION, VERSION_HPKE,
};
pub use licence::Licence;
pub use order::{OrderId, OrderTerms, Price, PurchaseOrder, VerifiedOrder};
pub use stream::{seal, unseal, ChunkOpener, SealSummary, StreamOpener};

use crate::keys::{KeyError, PrivateKeyRef, RsaPrivateKey};

/// The opener for content whose key is wrapped to `key` (RSA or EC): for
/// token implementations in this crate, which hold private keys.
pub(crate) fn opener_for<'a>(
    key: impl Into<PrivateKeyRef<'a>>,
    header: &ContentHeader,
    wrapped_key: &[u8],
) -> Result<StreamOpener, ContentError> {
    StreamOpener::new(&wrap::unwrap(key.into(), header, wrapped_key)?, header)
}

/// Re-wraps sealed content's key from `key` to `to` inside the token that
/// holds `key` (a joint key's rotation, FIG. 21 step 704): the content key
/// is unwrapped, the header's MAC checked, the key wrapped to `to` and a
/// new header made. The chunks do not change (they depend on the content
/// key and the salt only).
pub(crate) fn rewrap(
    key: &RsaPrivateKey,
    header: &ContentHeader,
    to: &crate::keys::RsaPublicKey,
) -> Result<ContentHeader, ContentError> {
    let unwrapped = key
        .decrypt_oaep(header.wrapped_key())
        .map_err(|e| match e {
            KeyError::DecryptionFailed => ContentError::WrongRecipient {
                sealed_to: header.recipient().to_string(),
                offered: key.public_key().fingerprint().to_string(),
            },
            other => ContentError::InvalidInput(other.to_string()),
        })?;
    let content_key = key::ContentKey::from_unwrapped(&unwrapped)?;
    content_key.verify_header(header)?;
    let wrapped = to
        .encrypt_oaep(content_key.expose())
        .map_err(|e| ContentError::InvalidInput(format!("cannot wrap to the new key: {e}")))?;
    let mut next = ContentHeader::new(
        VERSION,
        header.chunk_size().trailing_zeros() as u8,
        to.fingerprint(),
        header.content_id(),
        *header.salt(),
        wrapped,
    )?;
    next.set_mac(content_key.header_mac(&next)?);
    Ok(next)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::keys::RsaAlgorithm;

    fn recipient() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap())
    }

    fn sealed(plain: &[u8], log2: u8) -> Vec<u8> {
        let mut out = Vec::new();
        seal(
            &mut &plain[..],
            &mut out,
            &recipient().public_key().into(),
            ContentId::from_bytes([1; 16]),
            log2,
        )
        .unwrap();
        out
    }

    fn open(data: &[u8]) -> Result<Vec<u8>, ContentError> {
        let mut input = data;
        let header = ContentHeader::read_from(&mut input)?;
        let mut opener = opener_for(recipient(), &header, header.wrapped_key())?;
        let mut out = Vec::new();
        unseal(&mut input, &header, &mut opener, &mut out)?;
        Ok(out)
    }

    fn plain(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_every_boundary() {
        let c = 1024;
        for n in [0, 1, c - 1, c, c + 1, 2 * c, 3 * c + 7] {
            let p = plain(n);
            let s = sealed(&p, 10);
            let chunks = n.div_ceil(c).max(1);
            assert_eq!(s.len() - header_len(&s), n + chunks * TAG_LEN, "{n}");
            assert_eq!(open(&s).unwrap(), p, "{n}");
        }
    }

    fn header_len(s: &[u8]) -> usize {
        ContentHeader::read_from(&mut &s[..])
            .unwrap()
            .to_bytes()
            .len()
    }

    #[test]
    fn every_byte_flip_fails() {
        let s = sealed(&plain(2500), 10);
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 0x40;
            assert!(open(&t).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn truncation_reorder_duplication_splice_fail() {
        let c = 1024;
        let s = sealed(&plain(3 * c + 10), 10);
        let h = header_len(&s);
        let chunk = c + TAG_LEN;
        // Cut at every chunk boundary and inside the last chunk.
        for cut in [h, h + chunk, h + 2 * chunk, h + 3 * chunk, s.len() - 1] {
            assert!(open(&s[..cut]).is_err(), "cut at {cut}");
        }
        // Swap chunks 0 and 1.
        let mut t = s.clone();
        t[h..h + 2 * chunk].rotate_left(chunk);
        assert_eq!(open(&t), Err(ContentError::ChunkAltered { index: 0 }));
        // Duplicate chunk 1.
        let mut t = s[..h + 2 * chunk].to_vec();
        t.extend_from_slice(&s[h + chunk..]);
        assert!(open(&t).is_err());
        // Trailing bytes.
        let mut t = s.clone();
        t.push(0);
        assert!(open(&t).is_err());
        // Chunk 1 from another sealing of the same content under the same key.
        let other = sealed(&plain(3 * c + 10), 10);
        let mut t = s.clone();
        t[h + chunk..h + 2 * chunk].copy_from_slice(&other[h + chunk..h + 2 * chunk]);
        assert_eq!(open(&t), Err(ContentError::ChunkAltered { index: 1 }));
        // The other file's header on this file's chunks.
        let mut t = other[..h].to_vec();
        t.extend_from_slice(&s[h..]);
        assert_eq!(open(&t), Err(ContentError::ChunkAltered { index: 0 }));
    }

    #[test]
    fn another_key_cannot_open() {
        let s = sealed(b"secret", 16);
        let other = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let header = ContentHeader::read_from(&mut &s[..]).unwrap();
        assert!(matches!(
            opener_for(&other, &header, header.wrapped_key()),
            Err(ContentError::WrongRecipient { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn any_content_round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 0..5000), log2 in 10u8..=12) {
            proptest::prop_assert_eq!(open(&sealed(&data, log2)).unwrap(), data);
        }

        #[test]
        fn headers_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..700)) {
            let _ = ContentHeader::read_from(&mut &data[..]);
            let _ = PurchaseOrder::from_pem(&data);
            let _ = Licence::from_pem(&data);
        }
    }
}
