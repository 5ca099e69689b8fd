//! Key checks at the CA (DESIGN §4.7; CA/B Forum BR §6.1.5–6.1.6 and
//! Let's Encrypt's goodkey): sizes 2048/3072/4096, e odd and at least 65537,
//! no prime factor below 752.

use super::CaError;
use crate::keys::RsaPublicKey;

/// Moduli divisible by any prime below this are refused.
pub const SMALL_PRIME_BOUND: u32 = 752;

fn small_primes() -> impl Iterator<Item = u32> {
    (2..SMALL_PRIME_BOUND).filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0))
}

/// n mod p for a big-endian n.
fn rem(n: &[u8], p: u32) -> u32 {
    n.iter()
        .fold(0u64, |r, &b| ((r << 8) | u64::from(b)) % u64::from(p)) as u32
}

/// Refuses a key the CA must not certify.
pub fn check_key(key: &RsaPublicKey) -> Result<(), CaError> {
    key.check_policy()
        .map_err(|e| CaError::WeakKey(e.to_string()))?;
    let n = key.modulus();
    if let Some(p) = small_primes().find(|&p| rem(n, p) == 0) {
        return Err(CaError::WeakKey(format!("the modulus is divisible by {p}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
