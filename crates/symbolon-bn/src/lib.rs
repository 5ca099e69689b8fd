//! symbolon's window on aws-lc's big-number arithmetic (BN), for the joint
//! keys' secret exponents (docs/design.md §7): constant-time modular
//! exponentiation (`BN_mod_exp_mont_consttime`, Montgomery with a fixed
//! window and `mulx`/`adx` code), with the Montgomery context made in
//! constant time for a secret modulus; gcd (Stein's binary gcd, `BN_gcd`);
//! and prime pairs from aws-lc's FIPS 186-4 RSA key generation.
//!
//! Why this crate exists: the pure-Rust crypto-bigint the core uses
//! elsewhere runs a 2048-bit exponentiation at 3.3 ms here against aws-lc's
//! 1.55 ms on the same numbers (2.1×), and crypto-primes' prime search and
//! crypto-bigint's safegcd dominated a joint key's generation. aws-lc-rs
//! does not expose BN, so these calls go through aws-lc-sys, the same
//! libcrypto build aws-lc-rs links. This is the workspace's only `unsafe`
//! code: each block is an FFI call whose pointers come from live values of
//! this crate, and says why.
//!
//! Secrets: every number aws-lc allocates is wiped when freed (aws-lc's
//! `OPENSSL_free` cleanses each allocation), the byte forms this crate hands
//! out are `Zeroizing`, and [`Bn`] has no `Debug`, `Display` or `Clone`.

use std::ffi::c_int;
use std::ptr::NonNull;

use aws_lc_sys as ffi;
use zeroize::Zeroizing;

/// Why an operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BnError {
    /// aws-lc refused or could not allocate.
    #[error("aws-lc could not {0}")]
    Failed(&'static str),
    /// An exponentiation's modulus must be odd and above one.
    #[error("the modulus of an exponentiation must be odd and greater than one")]
    EvenModulus,
    /// An exponentiation's base must be below its modulus.
    #[error("the base of an exponentiation must be below the modulus")]
    NotReduced,
    /// A number does not fit the byte length asked for.
    #[error("the number does not fit in {0} bytes")]
    TooLong(usize),
}

/// Clears aws-lc's thread-local error queue after a refusal, so that the
/// next aws-lc-rs call on this thread does not find a stale entry.
fn failed(what: &'static str) -> BnError {
    // SAFETY: no arguments; only this thread's error queue is touched.
    unsafe { ffi::ERR_clear_error() };
    BnError::Failed(what)
}

/// A non-negative integer held by aws-lc, wiped when dropped.
pub struct Bn(NonNull<ffi::BIGNUM>);

// SAFETY: a BIGNUM is heap memory owned by this value alone; aws-lc keeps
// no reference to it and no thread affinity.
unsafe impl Send for Bn {}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BN_new/BN_bin2bn, is owned by this
        // value and freed exactly once, here.
        unsafe { ffi::BN_clear_free(self.0.as_ptr()) }
    }
}

impl Bn {
    /// Zero.
    fn new() -> Result<Self, BnError> {
        // SAFETY: no arguments; a null return is handled.
        NonNull::new(unsafe { ffi::BN_new() })
            .map(Self)
            .ok_or_else(|| failed("allocate a number"))
    }

    /// From big-endian bytes (leading zeros allowed).
    pub fn from_be(bytes: &[u8]) -> Result<Self, BnError> {
        // SAFETY: `bytes` is valid for `bytes.len()` reads; a null `ret`
        // asks aws-lc for a new BIGNUM, and a null return is handled.
        let bn = unsafe { ffi::BN_bin2bn(bytes.as_ptr(), bytes.len(), std::ptr::null_mut()) };
        NonNull::new(bn)
            .map(Self)
            .ok_or_else(|| failed("allocate a number"))
    }

    /// From a machine word.
    pub fn from_u64(value: u64) -> Result<Self, BnError> {
        Self::from_be(&value.to_be_bytes())
    }

    /// Big-endian bytes, left-padded with zeros to exactly `len`.
    pub fn to_be_padded(&self, len: usize) -> Result<Zeroizing<Vec<u8>>, BnError> {
        let mut out = Zeroizing::new(vec![0u8; len]);
        // SAFETY: `out` is valid for `len` writes; `self` is a live BIGNUM.
        let ok = unsafe { ffi::BN_bn2bin_padded(out.as_mut_ptr(), len, self.as_ptr()) };
        if ok != 1 {
            return Err(BnError::TooLong(len));
        }
        Ok(out)
    }

    /// The number of significant bits (0 for zero).
    pub fn bits(&self) -> u32 {
        // SAFETY: `self` is a live BIGNUM, only read.
        unsafe { ffi::BN_num_bits(self.as_ptr()) }
    }

    /// Whether the number is one, in constant time: its bytes at `len`
    /// (a masked conversion) compared with one's without branching.
    pub fn is_one(&self, len: usize) -> Result<bool, BnError> {
        let bytes = self.to_be_padded(len)?;
        let mut diff = 0u8;
        for (i, b) in bytes.iter().enumerate() {
            diff |= b ^ u8::from(i + 1 == len);
        }
        Ok(std::hint::black_box(diff) == 0)
    }

    /// Whether the number is odd.
    pub fn is_odd(&self) -> bool {
        // SAFETY: `self` is a live BIGNUM, only read.
        unsafe { ffi::BN_is_odd(self.as_ptr()) == 1 }
    }

    fn as_ptr(&self) -> *const ffi::BIGNUM {
        self.0.as_ptr()
    }

    fn as_mut_ptr(&mut self) -> *mut ffi::BIGNUM {
        self.0.as_ptr()
    }

    /// Whether `self < other`: `BN_ucmp` compares every word, masked, so
    /// only the operands' widths show.
    fn less_than(&self, other: &Bn) -> bool {
        // SAFETY: both are live BIGNUMs, only read.
        unsafe { ffi::BN_ucmp(self.as_ptr(), other.as_ptr()) < 0 }
    }
}

/// aws-lc's scratch space for one operation; its numbers are wiped when it
/// is freed.
struct Ctx(NonNull<ffi::BN_CTX>);

impl Ctx {
    fn new() -> Result<Self, BnError> {
        // SAFETY: no arguments; a null return is handled.
        NonNull::new(unsafe { ffi::BN_CTX_new() })
            .map(Self)
            .ok_or_else(|| failed("allocate scratch space"))
    }

    fn as_ptr(&mut self) -> *mut ffi::BN_CTX {
        self.0.as_ptr()
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: owned by this value, freed exactly once.
        unsafe { ffi::BN_CTX_free(self.0.as_ptr()) }
    }
}

/// One result of a BN call that returns 1 on success.
fn check(ok: c_int, what: &'static str) -> Result<(), BnError> {
    if ok == 1 {
        Ok(())
    } else {
        Err(failed(what))
    }
}

/// gcd(a, b) by aws-lc's constant-time binary gcd. Two things show besides
/// the operands' widths: the final shift by the power of two a and b share
/// (none when either is odd), and the result's width in words (its
/// trimming). Callers with secrets pass an odd operand and care only
/// whether the result is one, which [`Bn::is_one`] answers in constant time.
pub fn gcd(a: &Bn, b: &Bn) -> Result<Bn, BnError> {
    let mut out = Bn::new()?;
    let mut ctx = Ctx::new()?;
    // SAFETY: all pointers are live values of this crate; `out` is distinct
    // from the inputs (it was just made).
    let ok = unsafe { ffi::BN_gcd(out.as_mut_ptr(), a.as_ptr(), b.as_ptr(), ctx.as_ptr()) };
    check(ok, "compute a gcd")?;
    Ok(out)
}

/// An odd modulus (public) with its Montgomery constants, for repeated
/// exponentiations.
pub struct Modulus {
    n: Bn,
    mont: NonNull<ffi::BN_MONT_CTX>,
}

// SAFETY: the BN_MONT_CTX is owned by this value alone, and only read once
// made (BN_mod_exp_mont_consttime takes it const).
unsafe impl Send for Modulus {}
// SAFETY: as above: after construction both the modulus and its Montgomery
// context are only read, which aws-lc allows from several threads at once.
unsafe impl Sync for Modulus {}

impl Drop for Modulus {
    fn drop(&mut self) {
        // SAFETY: owned by this value, freed exactly once.
        unsafe { ffi::BN_MONT_CTX_free(self.mont.as_ptr()) }
    }
}

impl Modulus {
    /// The Montgomery context for a *public* odd `n` > 1 (an RSA modulus):
    /// `BN_MONT_CTX_new_for_modulus` reduces R² mod n with `BN_mod`, which is
    /// not constant time. A secret modulus takes [`Modulus::new_secret`].
    pub fn new(n: Bn) -> Result<Self, BnError> {
        Self::with(n, false)
    }

    /// The Montgomery context for a *secret* odd `n` > 1 (a prime of a key),
    /// made by `BN_MONT_CTX_new_consttime` (as aws-lc does for its own RSA
    /// primes). Only n's width shows.
    pub fn new_secret(n: Bn) -> Result<Self, BnError> {
        Self::with(n, true)
    }

    fn with(n: Bn, secret: bool) -> Result<Self, BnError> {
        // n's parity and width are public for both uses (an odd prime or
        // modulus of a known size).
        if !n.is_odd() || n.bits() < 2 {
            return Err(BnError::EvenModulus);
        }
        let mut ctx = Ctx::new()?;
        // SAFETY: `n` is a live BIGNUM, only read; a null return is handled.
        let mont = unsafe {
            if secret {
                ffi::BN_MONT_CTX_new_consttime(n.as_ptr(), ctx.as_ptr())
            } else {
                ffi::BN_MONT_CTX_new_for_modulus(n.as_ptr(), ctx.as_ptr())
            }
        };
        let mont = NonNull::new(mont).ok_or_else(|| failed("make a Montgomery context"))?;
        Ok(Self { n, mont })
    }

    /// The modulus's length in bits.
    pub fn bits(&self) -> u32 {
        self.n.bits()
    }

    /// x^d mod n, in time that depends on the widths of x and d only, never
    /// on their values (aws-lc's `BN_mod_exp_mont_consttime`: a fixed window,
    /// table entries read by masking every one). x must be below n.
    pub fn pow(&self, x: &Bn, d: &Bn) -> Result<Bn, BnError> {
        if !x.less_than(&self.n) {
            return Err(BnError::NotReduced);
        }
        let mut out = Bn::new()?;
        let mut ctx = Ctx::new()?;
        // SAFETY: every pointer is a live value of this crate; `out` is
        // distinct from the inputs; `mont` was made for `n`.
        let ok = unsafe {
            ffi::BN_mod_exp_mont_consttime(
                out.as_mut_ptr(),
                x.as_ptr(),
                d.as_ptr(),
                self.n.as_ptr(),
                ctx.as_ptr(),
                self.mont.as_ptr(),
            )
        };
        check(ok, "exponentiate")?;
        Ok(out)
    }
}

/// Two distinct primes p and q whose product has exactly `bits` bits, from
/// aws-lc's RSA key generation (FIPS 186-4 B.3.3: each of `bits`/2 bits,
/// |p − q| > 2^(bits/2 − 100), Miller–Rabin rounds for the size, the key's
/// pairwise test); the rest of that key is discarded, wiped. p − 1 and
/// q − 1 are also coprime to 65537, the exponent the generation is asked
/// for; a joint key chooses its own e and needs nothing of that.
pub fn rsa_primes(bits: u32) -> Result<(Bn, Bn), BnError> {
    let bits_c = c_int::try_from(bits).map_err(|_| BnError::Failed("use that key size"))?;
    let e = Bn::from_u64(65537)?;
    // SAFETY: no arguments; a null return is handled.
    let rsa = NonNull::new(unsafe { ffi::RSA_new() }).ok_or_else(|| failed("allocate a key"))?;
    let rsa = Rsa(rsa);
    // SAFETY: `rsa` and `e` are live; a null callback is allowed.
    let ok = unsafe {
        ffi::RSA_generate_key_ex(rsa.0.as_ptr(), bits_c, e.as_ptr(), std::ptr::null_mut())
    };
    check(ok, "generate a key")?;
    let (mut p, mut q) = (std::ptr::null(), std::ptr::null());
    // SAFETY: `rsa` is live; the out-pointers are valid for writes.
    unsafe { ffi::RSA_get0_factors(rsa.0.as_ptr(), &mut p, &mut q) };
    if p.is_null() || q.is_null() {
        return Err(failed("read a key's primes"));
    }
    // Copies, so the key can go (and be wiped) with its own.
    let copy = |x: *const ffi::BIGNUM| -> Result<Bn, BnError> {
        let mut out = Bn::new()?;
        // SAFETY: `x` is owned by the live `rsa` and only read; `out` is a
        // live, distinct BIGNUM.
        let r = unsafe { ffi::BN_copy(out.as_mut_ptr(), x) };
        if r.is_null() {
            return Err(failed("copy a prime"));
        }
        Ok(out)
    };
    Ok((copy(p)?, copy(q)?))
}

/// An RSA key of aws-lc's, freed (wiped) when dropped.
struct Rsa(NonNull<ffi::RSA>);

impl Drop for Rsa {
    fn drop(&mut self) {
        // SAFETY: owned by this value, freed exactly once.
        unsafe { ffi::RSA_free(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests;
