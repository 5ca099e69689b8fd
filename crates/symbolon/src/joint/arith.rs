//! The fifth embodiment's arithmetic (FIG. 19–21), in constant time where a
//! secret is involved. crypto-bigint holds the values and does the products,
//! divisions, λ's gcd and the inverse mod λ; aws-lc, through `symbolon-bn`,
//! does what dominates the time: the exponentiations (2.1× crypto-bigint's),
//! the coprime corrections' gcds, and the primes (its FIPS RSA key
//! generation) (docs/design.md §7):
//!
//! - n = p·q, L = λ(n) = lcm(p−1, q−1);
//! - e from the initial value e′, and each partial d_i from d_i′, by
//!   incrementing until gcd(·, L) = 1 (the patent's correction; the number of
//!   increments is the only thing it reveals, and it depends on L only
//!   through how far the public starting value is from a coprime one);
//! - d0 = (e·d1·…·d_{k−1})⁻¹ mod L, so that e·d0·d1·…·d_{k−1} ≡ 1 (mod L)
//!   and the chain of partial signatures x^{d0}…^{d_{k−1}} is x^d;
//! - partial signatures x^{d_i} mod n (Montgomery exponentiation, constant
//!   time in the exponent);
//! - NIST SP 800-56B rev. 2 Appendix C prime-factor recovery from n and any
//!   multiple of λ(n): how a reissued token recovers p and q from
//!   e·d0·…·d_{k−1} − 1 — and why nothing may ever output that product.
//!
//! Values travel as big-endian bytes; internally every operand is brought to
//! the precision of n (or twice it for products).

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Gcd, Integer, NonZero, Odd, RandomMod};
use symbolon_bn::{Bn, BnError, Modulus};
use zeroize::Zeroizing;

use super::JointError;

impl From<BnError> for JointError {
    fn from(e: BnError) -> Self {
        Self::Internal(format!("big-number arithmetic: {e}"))
    }
}

/// `x` as aws-lc's number (through a zeroised byte buffer: x may be secret).
fn to_bn(x: &BoxedUint) -> Result<Bn, JointError> {
    let bytes = Zeroizing::new(x.to_be_bytes());
    Ok(Bn::from_be(&bytes)?)
}

/// aws-lc's number back at `bits` of precision.
fn from_bn(x: &Bn, bits: u32) -> Result<BoxedUint, JointError> {
    let width = bits.div_ceil(64) * 64;
    let bytes = x.to_be_padded(width as usize / 8)?;
    BoxedUint::from_be_slice(&bytes, width).map_err(|e| JointError::Internal(format!("{e:?}")))
}

/// gcd(x, L) == 1 for an even L (λ(n)). An even x is not coprime: said
/// without a gcd, and public anyway (a correction's offset δ tells how many
/// candidates failed, and the one that passes is odd, so every candidate's
/// parity follows). For an odd x aws-lc's binary gcd shows only the result's
/// width in words, and the comparison with one is constant time.
fn coprime_to_even(x: &BoxedUint, l: &Bn) -> Result<bool, JointError> {
    if !bool::from(x.is_odd()) {
        return Ok(false);
    }
    let g = symbolon_bn::gcd(&to_bn(x)?, l)?;
    Ok(g.is_one(x.bits_precision() as usize / 8)?)
}

/// The smallest public exponent accepted (FIPS 186-5, docs/design.md §3).
pub const MIN_E: u64 = 65537;
/// The largest e a joint key starts from: the correction may add a few, and
/// the key policy takes e of at most 32 bits (docs/weak-keys.md).
pub const MAX_E_START: u64 = (1 << 32) - (1 << 20);

/// Refuses an e a joint key cannot be made with, before anything is made.
pub fn check_e_start(e_start: u64) -> Result<(), JointError> {
    if e_start > MAX_E_START {
        return Err(JointError::InvalidInput(format!(
            "e starts at most at 2^32 − 2^20 = {MAX_E_START} (a key's e has at most 32 bits); got {e_start}"
        )));
    }
    Ok(())
}

/// A big integer, zeroised on drop. No `Debug`.
pub struct Secret(pub(crate) Zeroizing<BoxedUint>);

impl Secret {
    /// The value, for the token that owns it (and benches); never print or
    /// store it.
    pub fn expose_secret(&self) -> &BoxedUint {
        &self.0
    }
}

/// Brings `x` to exactly `bits` of precision (its value must fit).
pub fn fit(x: &BoxedUint, bits: u32) -> BoxedUint {
    let bits = bits.div_ceil(64) * 64;
    match x.bits_precision().cmp(&bits) {
        std::cmp::Ordering::Less => x.widen(bits),
        std::cmp::Ordering::Greater => x.shorten(bits),
        std::cmp::Ordering::Equal => x.clone(),
    }
}

/// From big-endian bytes at `bits` of precision.
pub fn from_be(bytes: &[u8], bits: u32) -> Result<BoxedUint, JointError> {
    let stripped = &bytes[bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len())..];
    if stripped.len() * 8 > bits.div_ceil(64) as usize * 64 {
        return Err(JointError::InvalidInput(format!(
            "a value of {} bytes is larger than {bits} bits",
            stripped.len()
        )));
    }
    // Partials and d0 pass through here: the staging buffer is zeroised.
    let width = bits.div_ceil(64) as usize * 8;
    let mut padded = Zeroizing::new(Vec::with_capacity(width));
    padded.resize(width - stripped.len(), 0);
    padded.extend_from_slice(stripped);
    BoxedUint::from_be_slice(&padded, bits.div_ceil(64) * 64)
        .map_err(|e| JointError::InvalidInput(format!("{e:?}")))
}

/// Big-endian bytes without leading zeros (at least one byte).
pub fn to_be(x: &BoxedUint) -> Vec<u8> {
    // Secrets pass through here too: the full-width copy is zeroised.
    let b = Zeroizing::new(x.to_be_bytes());
    let start = b
        .iter()
        .position(|&v| v != 0)
        .unwrap_or(b.len().saturating_sub(1));
    b[start..].to_vec()
}

/// Big-endian bytes left-padded to `len` (a value below n as long as n:
/// partial signatures and chain links).
pub fn to_be_len(x: &BoxedUint, len: usize) -> Vec<u8> {
    let v = to_be(x);
    let mut out = vec![0u8; len.saturating_sub(v.len())];
    out.extend_from_slice(&v);
    out
}

fn one(bits: u32) -> BoxedUint {
    BoxedUint::one_with_precision(bits.div_ceil(64) * 64)
}

fn nonzero(x: BoxedUint, what: &str) -> Result<NonZero<BoxedUint>, JointError> {
    Option::from(NonZero::new(x)).ok_or_else(|| JointError::Internal(format!("{what} is zero")))
}

/// Two primes whose product has exactly `bits` bits, far enough apart
/// (|p − q| > 2^(bits/2 − 100), FIPS 186-4 B.3.3): those of an RSA key
/// aws-lc generates and then discards.
pub fn generate_primes(bits: u32) -> Result<(Secret, Secret), JointError> {
    let (p, q) = symbolon_bn::rsa_primes(bits)?;
    let p = Zeroizing::new(from_bn(&p, bits)?);
    let q = Zeroizing::new(from_bn(&q, bits)?);
    // aws-lc promises both; a joint key that missed either would be weak.
    let n = p.mul(&q);
    let diff = Zeroizing::new(if *p > *q {
        p.wrapping_sub(&q)
    } else {
        q.wrapping_sub(&p)
    });
    if n.bits() != bits || diff.bits() <= (bits / 2).saturating_sub(100) {
        return Err(JointError::Internal(
            "the primes generated do not make the key size asked for".into(),
        ));
    }
    Ok((Secret(p), Secret(q)))
}

/// n = p·q at `bits` of precision.
pub fn modulus(p: &Secret, q: &Secret, bits: u32) -> BoxedUint {
    fit(&p.0.mul(&q.0), bits)
}

/// λ(n) = lcm(p−1, q−1).
pub fn carmichael(p: &Secret, q: &Secret, bits: u32) -> Result<Secret, JointError> {
    let p1 = Zeroizing::new(p.0.wrapping_sub(&one(bits)));
    let q1 = Zeroizing::new(q.0.wrapping_sub(&one(bits)));
    // Once per key, so crypto-bigint's safegcd: aws-lc's BN_gcd would show
    // the power of two p − 1 and q − 1 share.
    let g = Zeroizing::new(p1.gcd(&q1));
    let product = Zeroizing::new(p1.mul(&q1));
    let wide = product.bits_precision();
    let (l, _) = product.div_rem(&nonzero(fit(&g, wide), "gcd(p−1, q−1)")?);
    let l = Zeroizing::new(l);
    Ok(Secret(Zeroizing::new(fit(&l, bits))))
}

/// The patent's correction: `start`, incremented until it is coprime to L
/// (and at least 2). Deterministic: the same start and L give the same result.
pub fn coprime_from(start: &BoxedUint, l: &Secret, bits: u32) -> Result<BoxedUint, JointError> {
    let l = &l.0;
    let mut x = fit(start, bits).rem(&nonzero(BoxedUint::clone(l), "L")?);
    let two = fit(&BoxedUint::from(2u64), bits);
    if x < two {
        x = two;
    }
    let l_bn = to_bn(l)?;
    // Bounded: among any 2·(number of prime factors of L) consecutive
    // integers one is coprime to L; far fewer steps happen in practice.
    for _ in 0..100_000 {
        if coprime_to_even(&x, &l_bn)? {
            return Ok(x);
        }
        x = x.wrapping_add(&one(bits));
    }
    Err(JointError::Internal(
        "no coprime value found near the start".into(),
    ))
}

/// A party's partial corrected: the corrected value and the offset δ the
/// party adds to its own d′ to sign with it (d′ + δ ≡ corrected mod L, which
/// is all an exponent mod n needs). The offset says only how far d′ was from
/// a value coprime to L.
pub fn correct(start: &BoxedUint, l: &Secret, bits: u32) -> Result<(BoxedUint, u64), JointError> {
    let reduced = fit(start, bits).rem(&nonzero(BoxedUint::clone(&l.0), "L")?);
    let corrected = coprime_from(start, l, bits)?;
    let offset = corrected.wrapping_sub(&reduced);
    let bytes = to_be(&offset);
    if bytes.len() > 8 {
        return Err(JointError::Internal(
            "the correction is implausibly large".into(),
        ));
    }
    let mut b = [0u8; 8];
    b[8 - bytes.len()..].copy_from_slice(&bytes);
    Ok((corrected, u64::from_be_bytes(b)))
}

/// d0 = (e·d1·…·d_{k−1})⁻¹ mod L.
pub fn complement(
    e: &BoxedUint,
    partials: &[&BoxedUint],
    l: &Secret,
    bits: u32,
) -> Result<Secret, JointError> {
    let wide = 2 * bits.div_ceil(64) * 64;
    let lw = nonzero(fit(&l.0, wide), "L")?;
    let mut acc = Zeroizing::new(fit(e, wide).rem(&lw));
    for d in partials {
        let product = fit(&acc, bits).mul(&fit(d, bits));
        *acc = fit(&product, wide).rem(&lw);
    }
    let acc = fit(&acc, bits);
    // Once per key, so crypto-bigint's constant-time inverse (aws-lc's for
    // an even modulus is constant time in its code, not in its contract).
    let inv: Option<BoxedUint> = acc.inv_mod(&fit(&l.0, bits)).into();
    let inv = inv.ok_or_else(|| JointError::Internal("e·d1·… is not invertible mod L".into()))?;
    Ok(Secret(Zeroizing::new(inv)))
}

/// x mod L at `bits` of precision (x may be wider than L).
pub fn reduce(x: &BoxedUint, l: &Secret, bits: u32) -> Result<BoxedUint, JointError> {
    let wide = bits.max(x.bits_precision());
    let r = Zeroizing::new(fit(x, wide).rem(&nonzero(fit(&l.0, wide), "L")?));
    Ok(fit(&r, bits))
}

/// A modulus n made ready for exponentiations: aws-lc's Montgomery
/// context for secret exponents, crypto-bigint's for short public ones.
pub struct Params {
    n: BoxedUint,
    monty: BoxedMontyParams,
    modulus: Modulus,
}

/// Montgomery parameters for n.
pub fn params(n: &BoxedUint) -> Result<Params, JointError> {
    let odd: Option<Odd<BoxedUint>> = Odd::new(n.clone()).into();
    let odd = odd.ok_or_else(|| JointError::InvalidInput("n is even".into()))?;
    let modulus = Modulus::new(to_bn(n)?)?;
    Ok(Params {
        n: n.clone(),
        monty: BoxedMontyParams::new(odd),
        modulus,
    })
}

/// x^d mod n, constant time in d (aws-lc's `BN_mod_exp_mont_consttime`).
/// x is a public value (a message or a chain link) and is reduced mod n
/// first if it is not below n.
pub fn pow_mod(x: &BoxedUint, d: &BoxedUint, params: &Params) -> Result<BoxedUint, JointError> {
    let bits = params.monty.bits_precision();
    let x = fit(x, bits.max(x.bits_precision()));
    let x = if x.bits() <= bits && fit(&x, bits) < params.n {
        fit(&x, bits)
    } else {
        fit(
            &x.rem(&nonzero(fit(&params.n, x.bits_precision()), "n")?),
            bits,
        )
    };
    let r = params.modulus.pow(&to_bn(&x)?, &to_bn(d)?)?;
    from_bn(&r, bits)
}

/// x^e mod n for a *public* exponent (e): time depends on e's length only,
/// so a verification does not pay for a full-width exponent.
pub fn pow_public(x: &BoxedUint, e: &BoxedUint, params: &Params) -> BoxedUint {
    let bits = params.monty.bits_precision();
    BoxedMontyForm::new(fit(x, bits), params.monty.clone())
        .pow_bounded_exp(e, e.bits())
        .retrieve()
}

/// NIST SP 800-56B rev. 2 Appendix C.2: p and q from n and a multiple `k`
/// of λ(n) (here e·d0·…·d_{k−1} − 1). Randomised; fails with negligible
/// probability for a correct `k`.
pub fn recover_factors(
    n: &BoxedUint,
    k: &BoxedUint,
    bits: u32,
) -> Result<(Secret, Secret), JointError> {
    let fail = || {
        JointError::Inconsistent(
            "n does not factor with the partial exponents given: a partial is wrong".into(),
        )
    };
    if bool::from(k.is_zero()) || bool::from(k.is_odd()) {
        return Err(fail());
    }
    let t = k.trailing_zeros();
    let r = k.shr_vartime(t).ok_or_else(fail)?;
    let params = params(n)?;
    // A multiple of λ(n) sends every unit to 1: a wrong partial shows at
    // once, without the hundred random tries.
    if !bool::from(pow_mod(&fit(&BoxedUint::from(2u64), bits), k, &params)?.is_one()) {
        return Err(fail());
    }
    let n_minus_1 = n.wrapping_sub(&one(bits));
    let nz = nonzero(n.clone(), "n")?;
    for _ in 0..100 {
        let g = BoxedUint::random_mod(&mut rand_core::OsRng, &nz);
        let mut y = pow_mod(&g, &r, &params)?;
        if bool::from(y.is_one()) || y == n_minus_1 {
            continue;
        }
        for _ in 0..t {
            let x = pow_mod(&y, &fit(&BoxedUint::from(2u64), 64), &params)?;
            if bool::from(x.is_one()) {
                let p = y.wrapping_sub(&one(bits)).gcd(n);
                if bool::from(p.is_one()) || p == *n {
                    break;
                }
                let (q, rem) = n.div_rem(&nonzero(p.clone(), "p")?);
                if !bool::from(rem.is_zero()) {
                    return Err(fail());
                }
                return Ok((Secret(Zeroizing::new(p)), Secret(Zeroizing::new(q))));
            }
            if x == n_minus_1 {
                break;
            }
            y = x;
        }
    }
    Err(fail())
}

/// EMSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §9.2) of `message` for a k-byte
/// modulus: what the parties chain-sign so the result is an ordinary RSA
/// signature anyone verifies.
pub fn emsa_pkcs1_sha256(message: &[u8], k: usize) -> Result<Vec<u8>, JointError> {
    const PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    if k < PREFIX.len() + 32 + 11 {
        return Err(JointError::InvalidInput(
            "the modulus is too short for EMSA-PKCS1-v1_5".into(),
        ));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    let mut em = vec![0x00, 0x01];
    em.resize(k - PREFIX.len() - 32 - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&PREFIX);
    em.extend_from_slice(digest.as_ref());
    Ok(em)
}

/// The composed key as an ordinary RSA key (for the token to sign with once
/// every partial is in): d = d0·d1·…·d_{k−1} reduced mod λ(n) (a d longer
/// than n would import into aws-lc and then fail to sign), with the CRT
/// values; checked pairwise.
pub fn compose(
    p: &Secret,
    q: &Secret,
    e: &BoxedUint,
    exponents: &[&BoxedUint],
    bits: u32,
) -> Result<crate::keys::RsaPrivateKey, JointError> {
    use pkcs1::der::Encode;
    let l = carmichael(p, q, bits)?;
    let wide = 2 * bits.div_ceil(64) * 64;
    let lw = nonzero(fit(&l.0, wide), "L")?;
    let mut d = Zeroizing::new(fit(&one(bits), wide));
    for x in exponents {
        let product = fit(&d, bits).mul(&fit(x, bits));
        *d = fit(&product, wide).rem(&lw);
    }
    let d = Zeroizing::new(fit(&d, bits));
    let reduce = |m: &BoxedUint| -> Result<Zeroizing<BoxedUint>, JointError> {
        Ok(Zeroizing::new(
            d.rem(&nonzero(m.wrapping_sub(&one(bits)), "p−1")?),
        ))
    };
    let (dp, dq) = (reduce(&p.0)?, reduce(&q.0)?);
    // q⁻¹ mod p = q^(p−2) mod p (Fermat): constant time, where aws-lc's
    // inverse modulo an odd number is not.
    // p is secret: its Montgomery context is made in constant time, and
    // every operand is held at p's width (half of n's).
    let half = bits / 2;
    if p.0.bits() > half {
        return Err(JointError::Inconsistent(format!(
            "p has more than {half} bits: not a prime of a {bits}-bit key"
        )));
    }
    let q_mod_p = Zeroizing::new(fit(&q.0.rem(&nonzero(BoxedUint::clone(&p.0), "p")?), half));
    let p_half = Zeroizing::new(fit(&p.0, half));
    let p_minus_2 = Zeroizing::new(p_half.wrapping_sub(&fit(&BoxedUint::from(2u64), half)));
    let qinv = Modulus::new_secret(to_bn(&p_half)?)?.pow(&to_bn(&q_mod_p)?, &to_bn(&p_minus_2)?)?;
    let qinv = Zeroizing::new(fit(&from_bn(&qinv, half)?, bits));
    let n = modulus(p, q, bits);
    let bytes: Vec<Zeroizing<Vec<u8>>> = [&n, e, &*d, &*p.0, &*q.0, &*dp, &*dq, &*qinv]
        .iter()
        .map(|x| Zeroizing::new(to_be(x)))
        .collect();
    fn uint(b: &[u8]) -> Result<pkcs1::UintRef<'_>, JointError> {
        pkcs1::UintRef::new(b).map_err(|e| JointError::Internal(e.to_string()))
    }
    let der = Zeroizing::new(
        pkcs1::RsaPrivateKey {
            modulus: uint(&bytes[0])?,
            public_exponent: uint(&bytes[1])?,
            private_exponent: uint(&bytes[2])?,
            prime1: uint(&bytes[3])?,
            prime2: uint(&bytes[4])?,
            exponent1: uint(&bytes[5])?,
            exponent2: uint(&bytes[6])?,
            coefficient: uint(&bytes[7])?,
            other_prime_infos: None,
        }
        .to_der()
        .map_err(|e| JointError::Internal(e.to_string()))?,
    );
    let key = crate::keys::RsaPrivateKey::from_pkcs1_der(&der)
        .map_err(|e| JointError::Inconsistent(e.to_string()))?;
    key.pairwise_consistency_test().map_err(|e| {
        JointError::Inconsistent(format!("the composed key fails its consistency test: {e}"))
    })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small_key(
        bits: u32,
        parties: usize,
    ) -> (
        Secret,
        Secret,
        BoxedUint,
        Secret,
        BoxedUint,
        Vec<BoxedUint>,
        Secret,
    ) {
        let (p, q) = generate_primes(bits).unwrap();
        let n = modulus(&p, &q, bits);
        let l = carmichael(&p, &q, bits).unwrap();
        let e = coprime_from(&BoxedUint::from(MIN_E), &l, bits).unwrap();
        let partials: Vec<BoxedUint> = (1..parties)
            .map(|_| {
                let start =
                    BoxedUint::random_mod(&mut rand_core::OsRng, &NonZero::new(n.clone()).unwrap());
                coprime_from(&start, &l, bits).unwrap()
            })
            .collect();
        let refs: Vec<&BoxedUint> = partials.iter().collect();
        let d0 = complement(&e, &refs, &l, bits).unwrap();
        (p, q, n, l, e, partials, d0)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// The chain of partial signatures is a full RSA signature: it
        /// verifies with e; the corrected partials are coprime to L; the
        /// product of e and every exponent is 1 mod L; and the primes come
        /// back from n and that product.
        #[test]
        fn partials_compose_to_rsa(bits in prop::sample::select(vec![512u32, 768, 1024]), parties in 2usize..6, seed in any::<u64>()) {
            let (p, q, n, l, e, partials, d0) = small_key(bits, parties);
            let params = params(&n).unwrap();
            let x = fit(&BoxedUint::from(seed | 2), bits);
            let mut s = pow_mod(&x, &d0.0, &params).unwrap();
            for d in &partials {
                prop_assert!(bool::from(d.gcd(&l.0).is_one()));
                s = pow_mod(&s, d, &params).unwrap();
            }
            prop_assert_eq!(pow_mod(&s, &e, &params).unwrap(), x.clone());
            // The product e·d0·d1… − 1 is a multiple of L …
            let mut k = fit(&e, bits * (parties as u32 + 2));
            for d in std::iter::once(&*d0.0).chain(partials.iter()) {
                k = fit(&fit(&k, bits * (parties as u32 + 2)).mul(&fit(d, bits * (parties as u32 + 2))), bits * (parties as u32 + 2));
            }
            let k = k.wrapping_sub(&one(bits * (parties as u32 + 2)));
            let lw = NonZero::new(fit(&l.0, k.bits_precision())).unwrap();
            prop_assert!(bool::from(k.rem(&lw).is_zero()));
            // … from which anyone could factor n: p and q come back.
            let (rp, rq) = recover_factors(&fit(&n, bits), &k, bits).unwrap();
            let (a, b) = (fit(&rp.0, bits), fit(&rq.0, bits));
            prop_assert!((a == *p.0 && b == *q.0) || (a == *q.0 && b == *p.0));
        }
    }

    /// At 2048 bits: the chain of partial signatures over a PKCS#1 v1.5
    /// encoded message equals the signature aws-lc makes with the composed
    /// standard RSA key, which OpenSSL-compatible verifiers accept.
    #[test]
    fn the_composed_key_is_standard_rsa() {
        use crate::keys::{HashAlgorithm, MessageDigest, SignatureScheme};
        let bits = 2048;
        let (p, q, n, _l, e, partials, d0) = small_key(bits, 3);
        let mut exps: Vec<&BoxedUint> = vec![&d0.0];
        exps.extend(partials.iter());
        let key = compose(&p, &q, &e, &exps, bits).unwrap();
        assert_eq!(key.public_key().modulus(), to_be(&n).as_slice());
        let digest = MessageDigest::of(HashAlgorithm::Sha256, b"joint");
        let full = key
            .sign_digest(SignatureScheme::Pkcs1Sha256, &digest)
            .unwrap();
        // EM = 0x00 01 FF… 00 ‖ DigestInfo(SHA-256, digest)
        let prefix = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        let mut em = vec![0x00, 0x01];
        em.resize(256 - prefix.len() - 32 - 1, 0xff);
        em.push(0x00);
        em.extend_from_slice(&prefix);
        em.extend_from_slice(digest.as_bytes());
        let params = params(&n).unwrap();
        let mut s = from_be(&em, bits).unwrap();
        for d in exps {
            s = pow_mod(&s, d, &params).unwrap();
        }
        let mut chained = to_be(&s);
        while chained.len() < 256 {
            chained.insert(0, 0);
        }
        assert_eq!(chained, full);
    }

    /// A public base at or above n (a chain link from an untrusted party) is
    /// reduced first; exponent zero and exponents wider than n work.
    #[test]
    fn public_bases_at_or_above_n_are_reduced_first() {
        let (p, q) = generate_primes(512).unwrap();
        let n = modulus(&p, &q, 512);
        let pr = params(&n).unwrap();
        let d = fit(&BoxedUint::from(65537u64), 512);
        let reference = |x: &BoxedUint| {
            let w = x.bits_precision().max(512);
            let r = fit(x, w).rem(&NonZero::new(fit(&n, w)).unwrap());
            pow_public(&fit(&r, 512), &d, &pr)
        };
        let wide = fit(&n, 2048)
            .wrapping_mul(&fit(&n, 2048))
            .wrapping_add(&fit(&BoxedUint::from(7u64), 2048));
        for x in [
            n.clone(),
            n.wrapping_add(&one(512)),
            n.wrapping_sub(&one(512)),
            fit(&BoxedUint::zero(), 512),
            one(512),
            wide,
            fit(&BoxedUint::from(3u64), 64),
        ] {
            assert_eq!(pow_mod(&x, &d, &pr).unwrap(), reference(&x));
        }
        let five = fit(&BoxedUint::from(5u64), 512);
        let zero = fit(&BoxedUint::zero(), 512);
        assert!(bool::from(pow_mod(&five, &zero, &pr).unwrap().is_one()));
        let l = carmichael(&p, &q, 512).unwrap();
        let k = fit(&l.0, 1024).wrapping_mul(&fit(&BoxedUint::from(12345u64), 1024));
        assert!(bool::from(pow_mod(&five, &k, &pr).unwrap().is_one()));
    }

    #[test]
    fn corrections_are_deterministic_and_refuse_nonsense() {
        let (_, _, n, l, _, _, _) = small_key(512, 2);
        let start = fit(&BoxedUint::from(65536u64), 512);
        assert_eq!(
            coprime_from(&start, &l, 512).unwrap(),
            coprime_from(&start, &l, 512).unwrap()
        );
        // A wrong multiple of λ does not factor n.
        let bogus = fit(&BoxedUint::from(1_000_001u64 * 2), 512);
        assert!(recover_factors(&n, &bogus, 512).is_err());
        assert!(from_be(&[0xff; 100], 512).is_err());
        assert_eq!(to_be(&from_be(&[0, 0, 1, 2], 512).unwrap()), vec![1, 2]);
    }
}
