//! A token slot's private key, RSA or elliptic-curve: what the sealed state
//! holds, read back by the algorithm its PKCS#8 names.

use zeroize::Zeroizing;

use super::{EcPrivateKey, KeyAlgorithm, KeyError, PublicKey, RsaPrivateKey};

/// A slot's key. No `Debug`, `Clone` or `Serialize`.
pub enum PrivateKey {
    /// RSA.
    Rsa(RsaPrivateKey),
    /// ECDSA P-256/P-384 or Ed25519.
    Ec(EcPrivateKey),
}

impl PrivateKey {
    /// Generates a key of `algorithm`, tested pairwise.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        match algorithm {
            KeyAlgorithm::Rsa(a) => RsaPrivateKey::generate(a).map(Self::Rsa),
            KeyAlgorithm::Ec(c) => EcPrivateKey::generate(c).map(Self::Ec),
        }
    }

    /// Reads an unencrypted PKCS#8 by the algorithm it names. Does not run
    /// the pairwise test.
    pub(crate) fn from_pkcs8_der(pkcs8: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        use der::Decode;
        let rsa = pkcs8::PrivateKeyInfoRef::from_der(&pkcs8)
            .map(|info| info.algorithm.oid == const_oid::db::rfc5912::RSA_ENCRYPTION)
            .map_err(|e| KeyError::Malformed {
                kind: "private key",
                reason: format!("not PKCS#8 DER: {e}"),
            })?;
        if rsa {
            RsaPrivateKey::from_pkcs8_der(pkcs8).map(Self::Rsa)
        } else {
            EcPrivateKey::from_pkcs8_der(pkcs8).map(Self::Ec)
        }
    }

    /// Reads a PEM private key an issuer brings (`PRIVATE KEY`, PKCS#8 of
    /// RSA, P-256, P-384 or Ed25519; or `RSA PRIVATE KEY`) and tests it
    /// pairwise.
    pub fn import_pem(text: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = crate::pem::decode_secret(text, &["PRIVATE KEY", "RSA PRIVATE KEY"])
            .map_err(|e| KeyError::Malformed {
                kind: "private key",
                reason: e.to_string(),
            })?;
        if label == "RSA PRIVATE KEY" {
            return RsaPrivateKey::import_pem(text).map(Self::Rsa);
        }
        let key = Self::from_pkcs8_der(der)?;
        key.pairwise_consistency_test()?;
        Ok(key)
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Self::Rsa(k) => PublicKey::Rsa(k.public_key().clone()),
            Self::Ec(k) => PublicKey::Ec(k.public_key().clone()),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Rsa(k) => KeyAlgorithm::Rsa(k.algorithm()),
            Self::Ec(k) => KeyAlgorithm::Ec(k.curve()),
        }
    }

    /// The RSA key, if it is one.
    pub fn as_rsa(&self) -> Option<&RsaPrivateKey> {
        match self {
            Self::Rsa(k) => Some(k),
            Self::Ec(_) => None,
        }
    }

    /// The EC key, if it is one.
    pub fn as_ec(&self) -> Option<&EcPrivateKey> {
        match self {
            Self::Rsa(_) => None,
            Self::Ec(k) => Some(k),
        }
    }

    /// The pairwise consistency test of its kind.
    pub fn pairwise_consistency_test(&self) -> Result<(), KeyError> {
        match self {
            Self::Rsa(k) => k.pairwise_consistency_test(),
            Self::Ec(k) => k.pairwise_consistency_test(),
        }
    }

    /// The PKCS#8 encoding (sealing, escrow). Crate-private.
    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        match self {
            Self::Rsa(k) => k.pkcs8_der(),
            Self::Ec(k) => k.pkcs8_der(),
        }
    }
}

impl From<RsaPrivateKey> for PrivateKey {
    fn from(k: RsaPrivateKey) -> Self {
        Self::Rsa(k)
    }
}

impl From<EcPrivateKey> for PrivateKey {
    fn from(k: EcPrivateKey) -> Self {
        Self::Ec(k)
    }
}

/// A borrowed private key of either kind: what key transport and escrow
/// take, so a caller holding an `RsaPrivateKey`, an `EcPrivateKey` or a
/// `PrivateKey` passes it as it is.
#[derive(Clone, Copy)]
pub enum PrivateKeyRef<'a> {
    /// RSA.
    Rsa(&'a RsaPrivateKey),
    /// EC.
    Ec(&'a EcPrivateKey),
}

impl PrivateKeyRef<'_> {
    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Self::Rsa(k) => PublicKey::Rsa(k.public_key().clone()),
            Self::Ec(k) => PublicKey::Ec(k.public_key().clone()),
        }
    }

    /// The PKCS#8 encoding. Crate-private.
    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        match self {
            Self::Rsa(k) => k.pkcs8_der(),
            Self::Ec(k) => k.pkcs8_der(),
        }
    }
}

impl<'a> From<&'a RsaPrivateKey> for PrivateKeyRef<'a> {
    fn from(k: &'a RsaPrivateKey) -> Self {
        Self::Rsa(k)
    }
}

impl<'a> From<&'a EcPrivateKey> for PrivateKeyRef<'a> {
    fn from(k: &'a EcPrivateKey) -> Self {
        Self::Ec(k)
    }
}

impl<'a> From<&'a PrivateKey> for PrivateKeyRef<'a> {
    fn from(k: &'a PrivateKey) -> Self {
        match k {
            PrivateKey::Rsa(k) => Self::Rsa(k),
            PrivateKey::Ec(k) => Self::Ec(k),
        }
    }
}
