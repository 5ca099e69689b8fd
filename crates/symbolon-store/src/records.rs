//! The rows of the registry as types.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use symbolon::keys::Fingerprint;
use symbolon::token::TokenSerial;

use crate::StoreError;

/// Where a public key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Reserved by an issuance station, not yet certified.
    Reserved,
    /// Certified by the CA.
    Certified,
    /// A reservation that failed or was given up: never usable again.
    Abandoned,
    /// An ACME account's key (docs/acme.md): never a certificate's.
    AcmeAccount,
}

impl KeyState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Certified => "certified",
            Self::Abandoned => "abandoned",
            Self::AcmeAccount => "acme-account",
        }
    }
}

impl FromStr for KeyState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "reserved" => Ok(Self::Reserved),
            "certified" => Ok(Self::Certified),
            "abandoned" => Ok(Self::Abandoned),
            "acme-account" => Ok(Self::AcmeAccount),
            other => Err(StoreError::Corrupt(format!("unknown key state {other:?}"))),
        }
    }
}

/// A station's reservation of a public key: 128 random bits, hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ReservationId(String);

impl ReservationId {
    pub(crate) fn random() -> Result<Self, StoreError> {
        let mut b = [0u8; 16];
        symbolon::keys::random_bytes(&mut b).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Self(hex::encode(b)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ReservationId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(StoreError::NotFound(format!(
                "reservation {s:?} (ids are 32 hex digits)"
            )))
        }
    }
}

impl fmt::Display for ReservationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A certificate serial number, lower-case hex of its DER INTEGER value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CertificateSerial(String);

impl FromStr for CertificateSerial {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.len() % 2 == 0
            && s.bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(StoreError::NotFound(format!(
                "certificate serial {s:?} (serials are up to 20 bytes of hex)"
            )))
        }
    }
}

impl CertificateSerial {
    /// From the serial's big-endian bytes.
    pub fn from_bytes(b: &[u8]) -> Self {
        Self(hex::encode(b))
    }

    /// The serial as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertificateSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// Fingerprint of the canonical SPKI.
    pub fingerprint: Fingerprint,
    /// The SPKI DER.
    #[serde(skip)]
    pub spki: Vec<u8>,
    /// Where it stands.
    pub state: KeyState,
    /// When it was first registered (Unix seconds).
    pub registered_at: i64,
}

/// An issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRecord {
    /// Serial.
    pub serial: CertificateSerial,
    /// The certified key.
    pub fingerprint: Fingerprint,
    /// Subject, RFC 4514 text.
    pub subject: String,
    /// The CA profile it was issued under.
    pub profile: String,
    /// Validity start (Unix seconds).
    pub not_before: i64,
    /// Validity end (Unix seconds).
    pub not_after: i64,
    /// The certificate DER.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// The token that attested generating the key, if any.
    pub generated_on_token: Option<TokenSerial>,
    /// That token's attestation file, as the CA verified it (kept for the
    /// key's evidence bundle).
    #[serde(skip)]
    pub attestation: Option<String>,
    /// When it was issued (Unix seconds).
    pub issued_at: i64,
}

/// A registered token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Serial.
    pub serial: TokenSerial,
    /// Device identity key SPKI DER.
    pub device_key: Vec<u8>,
    /// Transport key SPKI DER, when registered with one.
    pub transport_key: Option<Vec<u8>>,
    /// When it was registered (Unix seconds).
    pub registered_at: i64,
    /// The party that vouched for it (None: registered before devices were
    /// vouched for).
    pub vouched_by: Option<String>,
    /// That party's role.
    pub vouched_role: Option<String>,
    /// The manufacturer root its device certificate chains to.
    pub manufacturer_root: Option<Fingerprint>,
    /// That root's subject (None if the root is no longer trusted).
    pub manufacturer_subject: Option<String>,
    /// The token a recovery moved its key to.
    pub replaced_by: Option<TokenSerial>,
    /// When.
    pub replaced_at: Option<i64>,
}

/// A registered arbitrator's public parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArbitratorRecord {
    /// Name.
    pub id: String,
    /// age X25519 recipient (`age1…`).
    pub share_recipient: String,
    /// Approval key SPKI DER.
    pub approval_key: Vec<u8>,
}

/// A recovery request with its approval chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRecord {
    /// The canonical request.
    pub request: Vec<u8>,
    /// The escrow it is for.
    pub escrow_id: Vec<u8>,
    /// The approvals, in chain order (canonical encodings).
    pub approvals: Vec<Vec<u8>>,
    /// Whether the enclave completed it.
    pub completed: bool,
}

/// What kind of one-shot event a claim is (`Registry::claim_once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimScope {
    /// A purchase order, by its id: a licence is issued once per order.
    PurchaseOrder,
    /// A recovery request, by its id: completed once.
    RecoveryCompletion,
    /// A certificate's delivery report, by its serial: reported once.
    Delivery,
}

impl ClaimScope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PurchaseOrder => "purchase-order",
            Self::RecoveryCompletion => "recovery",
            Self::Delivery => "delivery",
        }
    }
}

/// A key a modulus shares a prime with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedKey {
    /// The other key.
    pub key: Fingerprint,
    /// The common factor's size in bits.
    pub factor_bits: u64,
}

/// A modulus the registry has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulusRecord {
    /// Its position: rows are added in increasing order.
    pub id: i64,
    /// Its key.
    pub key: Fingerprint,
    /// Big-endian.
    pub modulus: Vec<u8>,
    /// Where it was seen first (certify, reserve, refused, registered).
    pub origin: String,
    /// A key it shares a prime with, once found.
    pub shared_with: Option<Fingerprint>,
}
