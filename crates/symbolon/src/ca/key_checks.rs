//! Key checks at the CA (docs/design.md §2.7; CA/B Forum BR §6.1.5–6.1.6 and
//! Let's Encrypt's goodkey): sizes 2048/3072/4096, e odd and at least 65537,
//! no prime factor below 752.

use super::CaError;
use crate::keys::RsaPublicKey;

/// Moduli divisible by any prime below this are refused.
pub const SMALL_PRIME_BOUND: u32 = 752;

fn small_primes() -> impl Iterator<Item = u32> {
    (2..SMALL_PRIME_BOUND).filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0))
}

/// n mod m for a big-endian n and m < 2^32, 32 bits at a time.
fn rem(n: &[u8], m: u32) -> u32 {
    let m = u64::from(m);
    let head = n.len() % 4;
    let mut r = n[..head]
        .iter()
        .fold(0u64, |r, &b| ((r << 8) | u64::from(b)) % m);
    for w in n[head..].chunks_exact(4) {
        let w = u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
        r = ((r << 32) | w) % m;
    }
    r as u32
}

/// Refuses a key the CA must not certify.
pub fn check_key(key: &RsaPublicKey) -> Result<(), CaError> {
    key.check_policy()
        .map_err(|e| CaError::WeakKey(e.to_string()))?;
    let n = key.modulus();
    // One pass over n per group of primes whose product stays below 2^32,
    // then a cheap remainder per prime: a few thousand divisions, not 34 000.
    static PRIMES: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    let primes = PRIMES.get_or_init(|| small_primes().collect());
    let mut start = 0;
    while start < primes.len() {
        let mut product = 1u64;
        let mut end = start;
        while end < primes.len() && product * u64::from(primes[end]) < (1 << 32) {
            product *= u64::from(primes[end]);
            end += 1;
        }
        let r = rem(n, product as u32);
        if let Some(p) = primes[start..end].iter().find(|&&p| r % p == 0) {
            return Err(CaError::WeakKey(format!("the modulus is divisible by {p}")));
        }
        start = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_with_modulus(n: &[u8; 256]) -> RsaPublicKey {
        let mut der = vec![0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00];
        der.extend_from_slice(n);
        der.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        RsaPublicKey::from_der(&der).unwrap()
    }

    #[test]
    fn small_primes_and_remainders() {
        let primes: Vec<u32> = small_primes().collect();
        assert_eq!(&primes[..5], &[2, 3, 5, 7, 11]);
        assert_eq!(*primes.last().unwrap(), 751);
        assert_eq!(primes.len(), 133);
        assert_eq!(rem(&[0x01, 0x00], 7), 256 % 7);
        assert_eq!(
            rem(&[0xff; 9], 751),
            ((1u128 << 72) - 1).rem_euclid(751) as u32
        );
        assert_eq!(
            rem(&[0x12, 0x34, 0x56, 0x78, 0x9a], 4_294_967_291) as u64,
            0x12_3456_789a_u64 % 4_294_967_291
        );
    }

    #[test]
    fn every_small_prime_factor_is_refused() {
        // n = 2^2047 + (p - 2^2047 mod p), made odd: a 2048-bit multiple of p.
        for p in small_primes().filter(|&p| p > 2) {
            let mut n = [0u8; 256];
            n[0] = 0x80;
            let mut add = p - rem(&n, p);
            if add % 2 == 0 {
                add += p;
            }
            let mut carry = add;
            for b in n.iter_mut().rev() {
                let v = u32::from(*b) + (carry & 0xff);
                *b = v as u8;
                carry = (carry >> 8) + (v >> 8);
            }
            assert_eq!(rem(&n, p), 0);
            assert!(
                matches!(check_key(&key_with_modulus(&n)), Err(CaError::WeakKey(_))),
                "{p}"
            );
        }
        // 2^2048 - 1 = (2^1024 - 1)(2^1024 + 1) is divisible by 3.
        assert_eq!(
            check_key(&key_with_modulus(&[0xff; 256])),
            Err(CaError::WeakKey("the modulus is divisible by 3".into()))
        );
        let good =
            crate::keys::RsaPrivateKey::generate(crate::keys::RsaAlgorithm::Rsa2048).unwrap();
        check_key(good.public_key()).unwrap();
    }
}
