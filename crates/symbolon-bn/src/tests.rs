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
    fn gcd_and_inverse_agree_with_crypto_bigint(seed in proptest::collection::vec(any::<u8>(), 1..64),
                                                a in any::<u64>()) {
        let bits = 1024;
        // An even modulus, as λ(n) is.
        let n = odd(bits, &seed).wrapping_add(&BoxedUint::one_with_precision(bits));
        let a = BoxedUint::from(a | 1).widen(bits);
        let g = back(&gcd(&bn(&a), &bn(&n)).unwrap(), bits);
        prop_assert_eq!(&g, &a.gcd(&n));
        let inv = inverse_mod_even(&bn(&a), &bn(&n));
        if bool::from(g.is_one()) {
            let inv = back(&inv.unwrap(), bits);
            let product = a.widen(2 * bits).wrapping_mul(&inv.widen(2 * bits));
            let (_, r) = product.div_rem(&NonZero::new(n.widen(2 * bits)).unwrap());
            prop_assert!(bool::from(r.is_one()));
        } else {
            prop_assert_eq!(inv.err(), Some(BnError::NoInverse));
        }
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
fn inverse_refuses_an_odd_modulus_and_an_unreduced_number() {
    let odd_n = Bn::from_u64(101).unwrap();
    assert_eq!(
        inverse_mod_even(&Bn::from_u64(3).unwrap(), &odd_n).err(),
        Some(BnError::EvenModulus)
    );
    let n = Bn::from_u64(100).unwrap();
    assert_eq!(
        inverse_mod_even(&Bn::from_u64(100).unwrap(), &n).err(),
        Some(BnError::NotReduced)
    );
    // 3 · 67 = 201 ≡ 1 (mod 100).
    let inv = inverse_mod_even(&Bn::from_u64(3).unwrap(), &n).unwrap();
    assert_eq!(&inv.to_be_padded(1).unwrap()[..], &[67]);
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
