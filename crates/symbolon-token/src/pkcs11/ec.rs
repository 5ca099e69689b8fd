//! EC keys on a PKCS#11 device (docs/ec-keys.md): the `CKA_EC_PARAMS` of
//! each curve, reading a key's point back (`CKA_EC_POINT`), the key pair
//! templates, the device's raw ECDSA signature (r ‖ s) in the DER form
//! OpenSSL writes, and the Diffie-Hellman (`CKM_ECDH1_DERIVE`) that opens
//! content sealed with HPKE.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use symbolon::keys::{EcCurve, EcPublicKey, KeyError};
use symbolon::token::{SlotName, TokenError};
use symbolon::Code;

/// DER of the prime256v1 OID.
pub(super) const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the secp384r1 OID.
const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER of the id-Ed25519 OID (PKCS#11 3.0 §2.3.10 also allows the
/// PrintableString "edwards25519", which older devices use).
const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const ED25519_PRINTABLE: &[u8] = b"\x13\x0cedwards25519";
/// DER of the id-X25519 OID, and the PrintableString form.
const X25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
const X25519_PRINTABLE: &[u8] = b"\x13\x0acurve25519";

fn device(message: String) -> TokenError {
    TokenError::Device {
        code: Code::DeviceError,
        message,
    }
}

/// The `CKA_EC_PARAMS` to generate a key on `curve` with.
pub(super) fn params(curve: EcCurve) -> &'static [u8] {
    match curve {
        EcCurve::P256 => P256_PARAMS,
        EcCurve::P384 => P384_PARAMS,
        EcCurve::Ed25519 => ED25519_PARAMS,
        EcCurve::X25519 => X25519_PARAMS,
    }
}

/// The key pair generation mechanism for `curve`.
pub(super) fn generation(curve: EcCurve) -> Mechanism<'static> {
    match curve {
        EcCurve::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
        EcCurve::X25519 => Mechanism::EccMontgomeryKeyPairGen,
        _ => Mechanism::EccKeyPairGen,
    }
}

/// The curve a key's `CKA_EC_PARAMS` names; other curves (and explicit
/// parameters) are not slot keys symbolon uses.
pub(super) fn curve_of(params: &[u8]) -> Result<EcCurve, TokenError> {
    match params {
        P256_PARAMS => Ok(EcCurve::P256),
        P384_PARAMS => Ok(EcCurve::P384),
        ED25519_PARAMS | ED25519_PRINTABLE => Ok(EcCurve::Ed25519),
        X25519_PARAMS | X25519_PRINTABLE => Ok(EcCurve::X25519),
        other => Err(TokenError::Key(KeyError::UnsupportedKey(format!(
            "the device's key is on a curve symbolon does not use (CKA_EC_PARAMS {}); supported: p256, p384, ed25519, x25519",
            hex::encode(other)
        )))),
    }
}

/// The public key from `CKA_EC_POINT`: a DER OCTET STRING holding the point
/// (PKCS#11 §2.3.3), or the bare point some devices return.
pub(super) fn public_key(curve: EcCurve, ec_point: &[u8]) -> Result<EcPublicKey, TokenError> {
    let bare = EcPublicKey::from_point(curve, ec_point);
    if let Ok(k) = bare {
        return Ok(k);
    }
    use der::Decode;
    let inner = der::asn1::OctetString::from_der(ec_point)
        .map_err(|e| device(format!("the device's CKA_EC_POINT does not parse: {e}")))?;
    Ok(EcPublicKey::from_point(curve, inner.as_bytes())?)
}

/// The `CKA_KEY_TYPE` of a key on `curve`.
pub(super) fn key_type(curve: EcCurve) -> cryptoki::object::KeyType {
    match curve {
        EcCurve::Ed25519 => cryptoki::object::KeyType::EC_EDWARDS,
        EcCurve::X25519 => cryptoki::object::KeyType::EC_MONTGOMERY,
        _ => cryptoki::object::KeyType::EC,
    }
}

/// `CKA_EC_POINT` for `key`: its point in a DER OCTET STRING (PKCS#11
/// §2.3.3).
pub(super) fn ec_point(key: &EcPublicKey) -> Vec<u8> {
    let point = key.point();
    // At most 97 bytes (P-384 uncompressed): a one-byte length.
    let mut out = vec![0x04, point.len() as u8];
    out.extend_from_slice(point);
    out
}

/// The public half's template (`CKA_TOKEN`, labelled with the slot).
pub(super) fn public_template(slot: &SlotName, id: &[u8], curve: EcCurve) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(slot.as_str().as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::EcParams(params(curve).to_vec()),
        Attribute::Verify(curve.can_sign()),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
    ]
}

/// The private half's template: sensitive, never extractable; signs
/// (P-256, P-384, Ed25519) and derives a Diffie-Hellman secret (P-256,
/// P-384, X25519), as the soft token's keys do (docs/ec-keys.md).
pub(super) fn private_template(slot: &SlotName, id: &[u8], curve: EcCurve) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(slot.as_str().as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(curve.can_sign()),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(curve.can_agree()),
    ]
}

/// The Diffie-Hellman of the device's `key` (on `curve`) with `peer`:
/// `CKM_ECDH1_DERIVE` without a KDF (`CKD_NULL`) into a session-only
/// generic secret as long as a coordinate, read once and destroyed. The
/// private key stays in the device; the shared secret is what HPKE's
/// KEM needs (docs/content-format.md §7).
pub(super) fn derive(
    s: &cryptoki::session::Session,
    key: cryptoki::object::ObjectHandle,
    peer: &EcPublicKey,
) -> Result<zeroize::Zeroizing<Vec<u8>>, TokenError> {
    use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
    use cryptoki::object::{AttributeType, KeyType, ObjectClass};
    let len = peer.curve().field_len();
    let mechanism = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer.point()));
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen((len as u64).into()),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    let secret = s
        .derive_key(&mechanism, key, &template)
        .map_err(|e| match e {
            cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::KeyFunctionNotPermitted,
                _,
            ) => TokenError::Key(KeyError::Unsupported {
                kind: "operation for this device key",
                name: "key agreement with a key made without CKA_DERIVE".into(),
                supported:
                    "P-256, P-384 and X25519 keys made by `token generate`, which may derive",
            }),
            other => super::token::p11("derive a Diffie-Hellman secret", other),
        })?;
    let value = s.get_attributes(secret, &[AttributeType::Value]);
    super::token::discard(s, secret, "the derived secret");
    let value = value.map_err(|e| super::token::p11("read the derived secret", e))?;
    match value.into_iter().next() {
        Some(Attribute::Value(v)) if v.len() == len => Ok(zeroize::Zeroizing::new(v)),
        Some(Attribute::Value(mut v)) => {
            let got = v.len();
            zeroize::Zeroize::zeroize(&mut v);
            Err(device(format!(
                "the device derived a {got}-byte secret, not {len}"
            )))
        }
        _ => Err(device(
            "the device did not return the derived secret".into(),
        )),
    }
}

/// An ECDSA signature as the device gives it (r ‖ s, each the curve's
/// field length) in ASN.1 DER (`Ecdsa-Sig-Value`, RFC 3279 §2.2.3).
pub(super) fn ecdsa_der(raw: &[u8], field_len: usize) -> Result<Vec<u8>, TokenError> {
    if raw.len() != 2 * field_len {
        return Err(device(format!(
            "the device's ECDSA signature is {} bytes, expected {}",
            raw.len(),
            2 * field_len
        )));
    }
    let int = |v: &[u8]| {
        let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1)..];
        let mut out = vec![0x02];
        let pad = v[0] & 0x80 != 0;
        out.push((v.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let (r, s) = (int(&raw[..field_len]), int(&raw[field_len..]));
    // P-384's sequence can pass 127 bytes: long-form length.
    let body = r.len() + s.len();
    let mut der = vec![0x30];
    if body > 127 {
        der.extend_from_slice(&[0x81, body as u8]);
    } else {
        der.push(body as u8);
    }
    der.extend(r);
    der.extend(s);
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_become_der_that_verifies() {
        use aws_lc_rs::signature::{
            EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_FIXED_SIGNING,
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // Many signatures, so high-bit and short r and s occur.
        let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        for i in 0..64u8 {
            let fixed = pair.sign(&rng, &[i]).unwrap();
            let der = ecdsa_der(fixed.as_ref(), 48).unwrap();
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &ECDSA_P384_SHA384_ASN1,
                pair.public_key().as_ref(),
            )
            .verify(&[i], &der)
            .unwrap();
        }
        assert!(ecdsa_der(&[0u8; 95], 48).is_err());
    }

    #[test]
    fn params_and_points() {
        for c in EcCurve::SIGNING {
            assert_eq!(curve_of(params(c)).unwrap(), c);
        }
        assert_eq!(curve_of(ED25519_PRINTABLE).unwrap(), EcCurve::Ed25519);
        assert!(curve_of(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23]).is_err());
        let key = symbolon::keys::EcPrivateKey::generate(EcCurve::P256).unwrap();
        let point = key.public_key().point().to_vec();
        let mut wrapped = vec![0x04, point.len() as u8];
        wrapped.extend_from_slice(&point);
        assert_eq!(
            &public_key(EcCurve::P256, &wrapped).unwrap(),
            key.public_key()
        );
        assert_eq!(
            &public_key(EcCurve::P256, &point).unwrap(),
            key.public_key()
        );
    }
}
