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
