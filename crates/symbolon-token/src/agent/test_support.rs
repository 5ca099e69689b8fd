//! What the agent's unit tests share: a soft token with a content key, and
//! content sealed to it.
#![allow(clippy::unwrap_used)]

use symbolon::content::{seal, ContentId};
use symbolon::keys::RsaAlgorithm;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};

/// A soft token whose slot `c` holds an RSA-2048 key, and `plain` sealed to
/// that key in chunks of 2^`chunk_log2` bytes.
pub(super) fn token_and_sealed(
    plain: &[u8],
    chunk_log2: u8,
) -> (SoftToken<MemoryStore>, SlotName, Vec<u8>) {
    let slot = SlotName::new("c").unwrap();
    let mut t = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
    t.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
    let pk: symbolon::keys::PublicKey = t.public_key(&slot).unwrap().into();
    let mut sealed = Vec::new();
    seal(
        &mut &plain[..],
        &mut sealed,
        &pk,
        ContentId::random().unwrap(),
        chunk_log2,
    )
    .unwrap();
    (t, slot, sealed)
}
