//! Moduli that are not the product of two random primes, told by their bits
//! (the structural checks of the badkeys project, docs/weak-keys.md):
//!
//! - **patterned**: fewer than 40 % of the bits set, in the whole modulus
//!   and in its lower half, the mark of primes built as sparse polynomials
//!   (badkeys' rsapoly; its "nautilus" and "completeftp" subtypes are named);
//! - **biased**: a bit count far from half (outside 40–60 % for moduli over
//!   2000 bits; 38–62 % over 1000): a random modulus is within 1.2 % of
//!   half with overwhelming probability (badkeys' rsabias);
//! - **repeated-bytes**: one byte 16 times in a row (p ≈ 2^-120 at random);
//! - **xz-backdoor**: the fingerprint the xz-utils backdoor (CVE-2024-3094)
//!   looked for in an RSA modulus (p ≈ 2^-62 at random).
//!
//! A modulus with a small factor never reaches these checks; the order in
//! `check_modulus` makes that so.

use num_bigint::BigUint;

use super::{WeakClass, WeakKey};

/// Set bits, in percent, rounded down.
fn percent_set(x: &BigUint) -> u64 {
    match x.bits() {
        0 => 0,
        bits => x.count_ones() * 100 / bits,
    }
}

fn lower_half(n: &BigUint) -> BigUint {
    let half = n.bits() / 2;
    n % (BigUint::from(1u32) << half)
}

/// Whether every `width`-bit chunk above the lowest has the `mask` bits
/// clear, with no all-zero chunk in between: the coefficients of a sparse
/// polynomial in 2^width.
fn sparse_chunks(n: &BigUint, width: u64, mask: u64) -> bool {
    let mut rest = n >> width;
    let chunk_mask = (BigUint::from(1u32) << width) - 1u32;
    let mask = BigUint::from(mask);
    let mut zero_chunks = 0;
    let mut set = false;
    while rest != BigUint::ZERO {
        set |= (&rest & &mask) != BigUint::ZERO;
        rest >>= width;
        if (&rest & &chunk_mask) == BigUint::ZERO {
            zero_chunks += 1;
        }
    }
    !set && zero_chunks < 2
}

fn patterned(n: &BigUint) -> Option<WeakKey> {
    let pct = percent_set(n);
    if pct >= 40 || n.bits() < 500 || percent_set(&lower_half(n)) >= 40 {
        return None;
    }
    let kind = if sparse_chunks(n, 128, 0xffff_ffff_ffff_0000) {
        " (the \"nautilus\" layout: coefficients in 2^128)"
    } else if sparse_chunks(n, 32, 0x3ff0_0000) {
        " (the \"completeftp\" layout: coefficients in 2^32)"
    } else {
        ""
    };
    Some(WeakKey::new(
        WeakClass::Patterned,
        format!("only {pct} % of its bits are set, in the whole modulus and its lower half: primes built from a sparse pattern{kind}"),
    ))
}

fn biased(n: &BigUint) -> Option<WeakKey> {
    let pct = percent_set(n);
    let threshold = match n.bits() {
        b if b > 2000 => 10,
        b if b > 1000 => 12,
        _ => 17,
    };
    if 50 - threshold < pct && pct <= 50 + threshold {
        return None;
    }
    let lower = percent_set(&lower_half(n));
    if pct < 40 && lower < 40 {
        return None; // patterned, reported above
    }
    let vanity = if 50 - threshold < lower && lower <= 50 + threshold {
        " (its lower half is unbiased: a \"vanity\" modulus with chosen top bits)"
    } else {
        ""
    };
    Some(WeakKey::new(
        WeakClass::Biased,
        format!(
            "{pct} % of its bits are set, far from the half a product of random primes has{vanity}"
        ),
    ))
}

fn repeated_bytes(n: &BigUint) -> Option<WeakKey> {
    let bytes = n.to_bytes_be();
    bytes
        .windows(16)
        .find(|w| w.iter().all(|&b| b == w[0]))
        .map(|w| {
            WeakKey::new(
                WeakClass::RepeatedBytes,
                format!("the byte {:#04x} repeats 16 times in a row", w[0]),
            )
        })
}

fn xz_backdoor(n: &BigUint) -> Option<WeakKey> {
    // The modulus as DER writes it (a leading zero when the top bit is set),
    // read as three little-endian words a, b, c: flagged when a·b + c ≤ 3.
    let mut bytes = n.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    if bytes.len() < 16 {
        return None;
    }
    let word = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    let (a, b, c) = (word(0..4), word(4..8), word(8..16));
    (a.wrapping_mul(b).wrapping_add(c) <= 3).then(|| {
        WeakKey::new(
            WeakClass::XzBackdoor,
            "the modulus carries the fingerprint of the xz-utils backdoor (CVE-2024-3094)",
        )
    })
}

pub(super) fn check(n: &BigUint) -> Result<(), WeakKey> {
    match patterned(n)
        .or_else(|| biased(n))
        .or_else(|| repeated_bytes(n))
        .or_else(|| xz_backdoor(n))
    {
        Some(weak) => Err(weak),
        None => Ok(()),
    }
}
