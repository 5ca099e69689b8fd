//! Against crypto-bigint (constant-time, pure Rust) on random numbers, and
//! every refusal.
#![allow(clippy::unwrap_used)]

use super::*;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Gcd, NonZero, Odd, RandomMod};
use proptest::prelude::*;

fn bn(x: &BoxedUint) -> Bn {
    Bn::from_be(&x.to_be_bytes()).unwrap()
}

fn back(x: &Bn, bits: u32) -> BoxedUint {
    let len = bits.div_ceil(64) as usize * 8;
    BoxedUint::from_be_slice(&x.to_be_padded(len).unwrap(), bits.div_ceil(64) * 64).unwrap()
}

/// A random odd number of exactly `bits` bits, from a seed.
fn odd(bits: u32, seed: &[u8]) -> BoxedUint {
    let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = seed[i % seed.len()].wrapping_mul(31).wrapping_add(i as u8);
    }
    bytes[0] |= 0x80;
    *bytes.last_mut().unwrap() |= 1;
    BoxedUint::from_be_slice(&bytes, bits).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pow_agrees_with_crypto_bigint(seed in proptest::collection::vec(any::<u8>(), 1..64),
                                     bits in prop_oneof![Just(512u32), Just(1024), Just(2048)]) {
        let n = odd(bits, &seed);
        let nz = NonZero::new(n.clone()).unwrap();
        let x = BoxedUint::random_mod(&mut rand_core::OsRng, &nz);
        let d = BoxedUint::random_mod(&mut rand_core::OsRng, &nz);
        let params = BoxedMontyParams::new(Odd::new(n.clone()).unwrap());
        let want = BoxedMontyForm::new(x.clone(), params).pow(&d).retrieve();
        let m = Modulus::new(bn(&n)).unwrap();
        prop_assert_eq!(back(&m.pow(&bn(&x), &bn(&d)).unwrap(), bits), want);
    }

    #[test]
    fn gcd_agrees_with_crypto_bigint(seed in proptest::collection::vec(any::<u8>(), 1..64),
                                     a in any::<u64>(), factor in 1u64..1000) {
        let bits = 1024;
        // An even number, as λ(n) is, against odd ones with and without a
        // factor in common.
        let n = odd(bits, &seed).wrapping_add(&BoxedUint::one_with_precision(bits));
        let a = BoxedUint::from(a | 1).widen(bits);
        let a = a.wrapping_mul(&BoxedUint::from(factor | 1).widen(bits));
        let g = gcd(&bn(&a), &bn(&n)).unwrap();
        let want = a.gcd(&n);
        prop_assert_eq!(&back(&g, bits), &want);
        prop_assert_eq!(g.is_one(128).unwrap(), bool::from(want.is_one()));
    }

    #[test]
    fn a_secret_modulus_gives_the_same_powers(seed in proptest::collection::vec(any::<u8>(), 1..64)) {
        let n = odd(1024, &seed);
        let nz = NonZero::new(n.clone()).unwrap();
        let x = BoxedUint::random_mod(&mut rand_core::OsRng, &nz);
        let d = BoxedUint::random_mod(&mut rand_core::OsRng, &nz);
        let public = Modulus::new(bn(&n)).unwrap().pow(&bn(&x), &bn(&d)).unwrap();
        let secret = Modulus::new_secret(bn(&n)).unwrap().pow(&bn(&x), &bn(&d)).unwrap();
        prop_assert_eq!(back(&public, 1024), back(&secret, 1024));
    }
}

#[test]
fn bytes_round_trip_and_refuse_what_does_not_fit() {
    let x = Bn::from_be(&[0, 0, 1, 2, 3]).unwrap();
    assert_eq!(x.bits(), 17);
    assert_eq!(&x.to_be_padded(4).unwrap()[..], &[0, 1, 2, 3]);
    assert_eq!(x.to_be_padded(2).err(), Some(BnError::TooLong(2)));
    assert_eq!(Bn::from_be(&[]).unwrap().bits(), 0);
}

#[test]
fn exponentiation_refuses_an_even_modulus_and_an_unreduced_base() {
    assert!(matches!(
        Modulus::new(Bn::from_u64(100).unwrap()),
        Err(BnError::EvenModulus)
    ));
    assert!(matches!(
        Modulus::new(Bn::from_u64(1).unwrap()),
        Err(BnError::EvenModulus)
    ));
    let m = Modulus::new(Bn::from_u64(101).unwrap()).unwrap();
    let d = Bn::from_u64(7).unwrap();
    assert_eq!(
        m.pow(&Bn::from_u64(101).unwrap(), &d).err(),
        Some(BnError::NotReduced)
    );
    // 3^7 mod 101 = 2187 mod 101 = 66.
    let r = m.pow(&Bn::from_u64(3).unwrap(), &d).unwrap();
    assert_eq!(&r.to_be_padded(1).unwrap()[..], &[66]);
    // An exponent wider than the modulus is fine (a multiple of λ(n)).
    let wide = Bn::from_be(&[1u8; 40]).unwrap();
    assert!(m.pow(&Bn::from_u64(3).unwrap(), &wide).is_ok());
}

#[test]
fn one_is_told_from_everything_else() {
    assert!(Bn::from_u64(1).unwrap().is_one(8).unwrap());
    for v in [0u64, 2, 3, 256, 257, 1 << 63] {
        assert!(!Bn::from_u64(v).unwrap().is_one(8).unwrap(), "{v}");
    }
    assert!(!Bn::from_be(&[1, 0, 0, 0, 0, 0, 0, 0, 1])
        .unwrap()
        .is_one(9)
        .unwrap());
    // Too long for the width asked: an error, never "one".
    assert!(Bn::from_be(&[1, 0, 0, 0, 0, 0, 0, 0, 1])
        .unwrap()
        .is_one(8)
        .is_err());
    // Gcds: of coprime odd numbers one, of 15 and 21 three.
    let g = |a, b| gcd(&Bn::from_u64(a).unwrap(), &Bn::from_u64(b).unwrap()).unwrap();
    assert!(g(15, 22).is_one(8).unwrap());
    assert!(!g(15, 21).is_one(8).unwrap());
}

#[test]
fn rsa_primes_make_a_modulus_of_the_size_asked() {
    let (p, q) = rsa_primes(2048).unwrap();
    assert_eq!((p.bits(), q.bits()), (1024, 1024));
    let (p, q) = (back(&p, 1024), back(&q, 1024));
    assert_ne!(p, q);
    let n = p.widen(2048).wrapping_mul(&q.widen(2048));
    assert_eq!(n.bits(), 2048);
    // Odd, and pass a Fermat test to base 2.
    for x in [&p, &q] {
        let params = BoxedMontyParams::new(Odd::new(x.clone()).unwrap());
        let two = BoxedMontyForm::new(BoxedUint::from(2u64).widen(1024), params);
        let e = x.wrapping_sub(&BoxedUint::one_with_precision(1024));
        assert!(bool::from(two.pow(&e).retrieve().is_one()));
    }
    assert!(rsa_primes(100).is_err());
}
