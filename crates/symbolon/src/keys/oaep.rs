//! RSAES-OAEP decoding (RFC 8017 §7.1.2, SHA-256, MGF1-SHA-256, empty
//! label) of a raw RSA decryption result.
//!
//! Hand-written because it is needed only where a PKCS#11 device has raw
//! RSA (`CKM_RSA_X_509`) but no OAEP with SHA-256 (SoftHSM2 2.6 accepts
//! OAEP with SHA-1 only), and no maintained crate exposes OAEP decoding on
//! its own: aws-lc-rs decodes only inside its own private-key operation.
//! Everything the secret input decides is computed in constant time with
//! `subtle`, and every failure is the one [`KeyError::DecryptionFailed`], so
//! neither timing nor errors tell a Manger-style attacker which check
//! failed.

use aws_lc_rs::digest::{digest, Context, SHA256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::KeyError;

const H: usize = 32;

/// MGF1 with SHA-256 (RFC 8017 B.2.1).
fn mgf1(seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + H));
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut ctx = Context::new(&SHA256);
        ctx.update(seed);
        ctx.update(&counter.to_be_bytes());
        out.extend_from_slice(ctx.finish().as_ref());
        counter += 1;
    }
    out.truncate(len);
    out
}

/// Decodes `em`, the k-byte result of raw RSA decryption (left-padded with
/// zeros to the modulus length), into the message.
pub fn decode_sha256(em: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let k = em.len();
    if k < 2 * H + 2 {
        return Err(KeyError::DecryptionFailed);
    }
    let (masked_seed, masked_db) = em[1..].split_at(H);
    let seed_mask = mgf1(masked_db, H);
    let seed: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_seed
            .iter()
            .zip(seed_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let db_mask = mgf1(&seed, k - H - 1);
    let db: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_db
            .iter()
            .zip(db_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let label_hash = digest(&SHA256, b"");
    let mut good = em[0].ct_eq(&0) & db[..H].ct_eq(label_hash.as_ref());
    // The first non-zero byte after the label hash must be 0x01.
    let mut looking = Choice::from(1);
    let mut separator: u32 = 0;
    for (i, &b) in db.iter().enumerate().skip(H) {
        let is_one = b.ct_eq(&1);
        let is_zero = b.ct_eq(&0);
        separator.conditional_assign(&(i as u32), looking & is_one);
        good &= !(looking & !is_zero & !is_one);
        looking &= !is_one;
    }
    good &= !looking;
    if !bool::from(good) {
        return Err(KeyError::DecryptionFailed);
    }
    // The message length is public once decryption has succeeded.
    Ok(Zeroizing::new(db[separator as usize + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EME-OAEP encoding (RFC 8017 §7.1.1 step 2) with a chosen seed.
    fn encode(message: &[u8], k: usize, seed: [u8; H]) -> Vec<u8> {
        let mut db = digest(&SHA256, b"").as_ref().to_vec();
        db.resize(k - message.len() - H - 2, 0);
        db.push(1);
        db.extend_from_slice(message);
        let db_mask = mgf1(&seed, k - H - 1);
        let masked_db: Vec<u8> = db.iter().zip(db_mask.iter()).map(|(a, b)| a ^ b).collect();
        let seed_mask = mgf1(&masked_db, H);
        let mut em = vec![0u8];
        em.extend(seed.iter().zip(seed_mask.iter()).map(|(a, b)| a ^ b));
        em.extend_from_slice(&masked_db);
        em
    }

    #[test]
    fn decodes_what_was_encoded() {
        for (len, k) in [
            (0, 256),
            (1, 256),
            (32, 256),
            (190, 256),
            (32, 384),
            (32, 512),
        ] {
            let m: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let em = encode(&m, k, [7; H]);
            assert_eq!(em.len(), k);
            assert_eq!(decode_sha256(&em).unwrap().as_slice(), m.as_slice());
        }
    }

    #[test]
    fn every_change_fails_alike() {
        let em = encode(b"a 32-byte key a 32-byte key 1234", 256, [9; H]);
        for i in 0..em.len() {
            for bit in [0x01, 0x80] {
                let mut bad = em.clone();
                bad[i] ^= bit;
                assert_eq!(
                    decode_sha256(&bad),
                    Err(KeyError::DecryptionFailed),
                    "byte {i}"
                );
            }
        }
        assert_eq!(decode_sha256(&em[..60]), Err(KeyError::DecryptionFailed));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = decode_sha256(&data);
        }
    }
}
