//! Key transport: a private key wrapped to a token's transport key.
//!
//! The construction is PKCS#11's `CKM_RSA_AES_KEY_WRAP`: a fresh AES-256 key
//! encrypted with RSAES-OAEP (SHA-256, MGF1-SHA-256, no label) to the transport
//! public key, and the PKCS#8 `PrivateKeyInfo` wrapped under that AES key with
//! AES Key Wrap with Padding (RFC 5649). An HSM can unwrap it with
//! `C_UnwrapKey` so the key is never plaintext outside the device.
//!
//! Wire form: `version (1) || u16 length of the OAEP block || OAEP block ||
//! KWP ciphertext`. Integrity of the whole comes from the issuer's signature
//! over the command that carries it.

use aws_lc_rs::key_wrap::{KeyEncryptionKey, KeyWrapPadded, AES_256};
use zeroize::Zeroizing;

use super::{random_bytes, KeyError, PrivateKey, PrivateKeyRef, RsaPrivateKey, RsaPublicKey};

const VERSION: u8 = 1;

/// A wrapped private key: ciphertext, safe to store and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// From wire bytes; structure is checked on unwrap.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The two halves, for a device that unwraps them itself
    /// (`C_UnwrapKey`): the RSA-OAEP block holding the AES key, and the
    /// AES-KWP ciphertext of the PKCS#8 key.
    pub fn parts(&self) -> Result<(&[u8], &[u8]), KeyError> {
        let wire = self.as_bytes();
        if wire.len() < 3 || wire[0] != VERSION {
            return Err(KeyError::DecryptionFailed);
        }
        let oaep_len = u16::from_be_bytes([wire[1], wire[2]]) as usize;
        let rest = &wire[3..];
        if rest.len() <= oaep_len {
            return Err(KeyError::DecryptionFailed);
        }
        Ok(rest.split_at(oaep_len))
    }
}

/// Wraps `key` (RSA or EC: its PKCS#8) to `transport`.
pub fn wrap<'a>(
    key: impl Into<PrivateKeyRef<'a>>,
    transport: &RsaPublicKey,
) -> Result<WrappedKey, KeyError> {
    let key = key.into();
    let mut kek_bytes = Zeroizing::new([0u8; 32]);
    random_bytes(kek_bytes.as_mut())?;
    let oaep = transport.encrypt_oaep(kek_bytes.as_ref())?;
    let kek = KeyEncryptionKey::new(&AES_256, kek_bytes.as_ref())
        .map_err(|_| KeyError::Internal("AES key wrap"))?;
    let pkcs8 = key.pkcs8_der();
    let mut out = vec![0u8; pkcs8.len() + 16];
    let wrapped_len = kek
        .wrap_with_padding(pkcs8, &mut out)
        .map_err(|_| KeyError::Internal("AES key wrap"))?
        .len();
    out.truncate(wrapped_len);

    let oaep_len = u16::try_from(oaep.len()).map_err(|_| KeyError::Internal("OAEP length"))?;
    let mut wire = Vec::with_capacity(3 + oaep.len() + out.len());
    wire.push(VERSION);
    wire.extend_from_slice(&oaep_len.to_be_bytes());
    wire.extend_from_slice(&oaep);
    wire.extend_from_slice(&out);
    Ok(WrappedKey(wire))
}

/// Unwraps with the transport private key. Every failure is
/// [`KeyError::DecryptionFailed`], so the error says nothing about where.
pub(crate) fn unwrap(
    wrapped: &WrappedKey,
    transport: &RsaPrivateKey,
) -> Result<PrivateKey, KeyError> {
    let (oaep, kwp) = wrapped.parts()?;
    let kek_bytes = transport.decrypt_oaep(oaep)?;
    if kek_bytes.len() != 32 {
        return Err(KeyError::DecryptionFailed);
    }
    let kek =
        KeyEncryptionKey::new(&AES_256, &kek_bytes).map_err(|_| KeyError::DecryptionFailed)?;
    let mut out = Zeroizing::new(vec![0u8; kwp.len()]);
    let n = kek
        .unwrap_with_padding(kwp, &mut out)
        .map_err(|_| KeyError::DecryptionFailed)?
        .len();
    out.truncate(n);
    PrivateKey::from_pkcs8_der(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RsaAlgorithm;

    #[test]
    fn wrap_unwrap_and_tamper() {
        let transport = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let w = wrap(&key, transport.public_key()).unwrap();
        let back = unwrap(&w, &transport).unwrap();
        assert_eq!(
            back.public_key(),
            crate::keys::PublicKey::from(key.public_key())
        );
        // An EC key travels the same way.
        let ec = crate::keys::EcPrivateKey::generate(crate::keys::EcCurve::P256).unwrap();
        let back = unwrap(&wrap(&ec, transport.public_key()).unwrap(), &transport).unwrap();
        assert_eq!(
            back.public_key(),
            crate::keys::PublicKey::Ec(ec.public_key().clone())
        );
        for i in [0, 1, 5, w.as_bytes().len() - 1] {
            let mut b = w.as_bytes().to_vec();
            b[i] ^= 0x01;
            assert_eq!(
                unwrap(&WrappedKey::from_bytes(b), &transport).map(|_| ()),
                Err(KeyError::DecryptionFailed)
            );
        }
        let other = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        assert!(unwrap(&w, &other).is_err());
    }
}
