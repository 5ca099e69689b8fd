//! The deposit (FIG. 7, the station's side): the private key encrypted under
//! a fresh escrow key, the escrow key split over the policy, each share
//! sealed in an age envelope to its arbitrator. The deposit record is
//! public; the envelopes are for their arbitrators only.
//!
//! ```text
//! escrow key = HKDF-SHA-256(salt = escrow id, IKM = root secret, info = "symbolon escrow v1 key")
//! blob       = nonce ‖ AES-256-GCM(escrow key, nonce, PKCS#8,
//!                AAD = "symbolon escrow v1 blob" ‖ escrow id ‖ key fingerprint ‖ policy hash)
//! share file = canonical(domain, escrow id, key fingerprint, policy hash, arbitrator, path, secret)
//! ```

use std::collections::BTreeMap;
use std::str::FromStr;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::hkdf;
use zeroize::Zeroizing;

use super::sharing::{self, Commitments, LeafShare, Path};
use super::{sha256, ArbitratorId, ArbitratorPublic, EscrowError, Policy};
use crate::encoding::{Reader, Writer};
use crate::keys::{Fingerprint, PrivateKey, PrivateKeyRef, PublicKey};
use crate::token::TokenSerial;

const RECORD_DOMAIN: &str = "symbolon escrow v1 record";
const SHARE_DOMAIN: &str = "symbolon escrow v1 share";
const BLOB_AAD: &str = "symbolon escrow v1 blob";
const KEY_INFO: &[u8] = b"symbolon escrow v1 key";

random_id!(
    /// An escrow's identity: 16 random bytes, shown as hex.
    EscrowId,
    "an escrow id",
    crate::escrow::EscrowError,
    invalid: crate::escrow::EscrowError::InvalidInput,
    internal: crate::escrow::EscrowError::Internal,
);

/// The public record of an escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowDeposit {
    /// Its identity.
    pub id: EscrowId,
    /// The escrowed key's public half.
    pub public_key: PublicKey,
    /// The policy, canonical.
    pub policy: String,
    /// The token the key was written into.
    pub bound_token: TokenSerial,
    /// That token's device identity key.
    pub bound_device: Fingerprint,
    /// Feldman commitments of every node.
    pub commitments: Commitments,
    /// The encrypted key.
    pub blob: Vec<u8>,
}

/// A share sealed to one arbitrator (age, X25519).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareEnvelope {
    /// For whom.
    pub arbitrator: ArbitratorId,
    /// The age file.
    pub envelope: Vec<u8>,
}

fn escrow_key(id: &EscrowId, root: &[u8; 32]) -> Result<LessSafeKey, EscrowError> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let mut k = Zeroizing::new([0u8; 32]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, id.as_bytes())
        .extract(root)
        .expand(&[KEY_INFO], Len)
        .and_then(|okm| okm.fill(k.as_mut()))
        .map_err(|_| EscrowError::Internal("HKDF".into()))?;
    let unbound = UnboundKey::new(&AES_256_GCM, k.as_ref())
        .map_err(|_| EscrowError::Internal("AES key".into()))?;
    Ok(LessSafeKey::new(unbound))
}

fn blob_aad(id: &EscrowId, fingerprint: &Fingerprint, policy_hash: &[u8; 32]) -> Vec<u8> {
    let mut w = Writer::with_domain(BLOB_AAD);
    w.bytes(id.as_bytes());
    w.bytes(fingerprint.as_bytes());
    w.bytes(policy_hash);
    w.into_bytes().to_vec()
}

impl EscrowDeposit {
    /// Deposits `key` under `policy`: every arbitrator the policy names must
    /// be in `arbitrators`. Returns the public record and the envelopes.
    pub fn create<'a>(
        key: impl Into<PrivateKeyRef<'a>>,
        policy: &Policy,
        arbitrators: &[ArbitratorPublic],
        bound_token: TokenSerial,
        bound_device: Fingerprint,
    ) -> Result<(Self, Vec<ShareEnvelope>), EscrowError> {
        crate::self_test::ensure().map_err(|e| EscrowError::Internal(e.to_string()))?;
        let key = key.into();
        let mut recipients = BTreeMap::new();
        for a in policy.arbitrators() {
            let public = arbitrators
                .iter()
                .find(|p| &p.id == a)
                .ok_or_else(|| EscrowError::UnknownArbitrator(a.to_string()))?;
            let r = age::x25519::Recipient::from_str(&public.share_recipient).map_err(|e| {
                EscrowError::InvalidInput(format!("arbitrator {a}'s share key: {e}"))
            })?;
            recipients.insert(a.clone(), r);
        }
        let id = EscrowId::random()?;
        let fingerprint = key.public_key().fingerprint();
        let policy_hash = policy.hash();
        let root = sharing::random_secret();
        let (commitments, shares) = sharing::split(policy, &root)?;

        let sealing = escrow_key(&id, &root)?;
        let mut nonce = [0u8; 12];
        crate::keys::random_bytes(&mut nonce).map_err(|e| EscrowError::Internal(e.to_string()))?;
        let mut sealed = Zeroizing::new(key.pkcs8_der().to_vec());
        sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(blob_aad(&id, &fingerprint, &policy_hash)),
                &mut *sealed,
            )
            .map_err(|_| EscrowError::Internal("AES-GCM".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);

        let mut envelopes = Vec::new();
        for (a, share) in &shares {
            let file = share_file(
                &id,
                &fingerprint,
                &policy_hash,
                a,
                &share.path,
                share.value(),
            );
            let envelope = age::encrypt(&recipients[a], &file)
                .map_err(|e| EscrowError::Internal(format!("age: {e}")))?;
            envelopes.push(ShareEnvelope {
                arbitrator: a.clone(),
                envelope,
            });
        }
        Ok((
            Self {
                id,
                public_key: key.public_key(),
                policy: policy.canonical(),
                bound_token,
                bound_device,
                commitments,
                blob,
            },
            envelopes,
        ))
    }

    /// The parsed policy.
    pub fn policy(&self) -> Result<Policy, EscrowError> {
        Policy::parse(&self.policy)
            .map_err(|e| EscrowError::InvalidInput(format!("stored policy: {e}")))
    }

    /// The escrowed key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.public_key.fingerprint()
    }

    /// SHA-256 of the canonical policy.
    pub fn policy_hash(&self) -> [u8; 32] {
        sha256(self.policy.as_bytes())
    }

    /// Opens a share file (the plaintext of an envelope, or of a share the
    /// enclave decrypted) and checks it belongs to this escrow and `arbitrator`
    /// and matches the commitments.
    pub fn check_share(
        &self,
        arbitrator: &ArbitratorId,
        file: &[u8],
    ) -> Result<LeafShare, EscrowError> {
        let share = self.read_share(arbitrator, file)?;
        if !self.commitments.verify(&share.path, share.value()) {
            return Err(share_mismatch(arbitrator));
        }
        Ok(share)
    }

    /// A share file read and matched to this escrow, its policy and
    /// `arbitrator`, its secret not yet checked against the commitments
    /// (the enclave checks all of a recovery's shares at once).
    pub(crate) fn read_share(
        &self,
        arbitrator: &ArbitratorId,
        file: &[u8],
    ) -> Result<LeafShare, EscrowError> {
        let bad = |reason: String| EscrowError::BadShare {
            arbitrator: arbitrator.to_string(),
            reason,
        };
        let f = ShareFile::decode(file).map_err(|e| bad(format!("not a share: {e}")))?;
        let (id, fp, ph, a, path, value) =
            (f.escrow, f.key, f.policy, f.arbitrator, f.path, f.value);
        if id != self.id.as_bytes() || fp != self.fingerprint().as_bytes() {
            return Err(bad("it is a share of another escrow or key".into()));
        }
        if ph != self.policy_hash() {
            return Err(bad("it was made under another policy".into()));
        }
        if a != arbitrator.as_str() {
            return Err(bad(format!("it is {a}'s share")));
        }
        let value: [u8; 32] = value
            .as_slice()
            .try_into()
            .map_err(|_| bad("the secret is not 32 bytes".into()))?;
        Ok(LeafShare::new(path, value))
    }

    /// Decrypts the escrowed key with the combined root secret.
    pub(crate) fn open(&self, root: &[u8; 32]) -> Result<PrivateKey, EscrowError> {
        let damaged = || {
            EscrowError::EscrowDamaged(
                "the escrowed blob does not decrypt (altered, or not this escrow's key)".into(),
            )
        };
        if self.blob.len() < 12 + 16 {
            return Err(damaged());
        }
        let (nonce, ct) = self.blob.split_at(12);
        let mut buf = Zeroizing::new(ct.to_vec());
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged())?;
        let n = escrow_key(&self.id, root)?
            .open_in_place(
                nonce,
                Aad::from(blob_aad(&self.id, &self.fingerprint(), &self.policy_hash())),
                &mut buf,
            )
            .map_err(|_| damaged())?
            .len();
        buf.truncate(n);
        PrivateKey::from_pkcs8_der(buf).map_err(|e| EscrowError::EscrowDamaged(e.to_string()))
    }

    /// The canonical encoding of the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(RECORD_DOMAIN);
        w.bytes(self.id.as_bytes());
        w.bytes(self.public_key.spki_der());
        w.str(&self.policy);
        w.bytes(self.bound_token.as_bytes());
        w.bytes(self.bound_device.as_bytes());
        self.commitments.encode(&mut w);
        w.bytes(&self.blob);
        w.into_bytes().to_vec()
    }

    /// Reads the canonical encoding.
    pub fn decode(data: &[u8]) -> Result<Self, EscrowError> {
        let bad = |e: crate::encoding::DecodeError| {
            EscrowError::InvalidInput(format!("escrow record: {e}"))
        };
        let mut r = Reader::new(data);
        r.domain(RECORD_DOMAIN).map_err(bad)?;
        let id = EscrowId(
            r.bytes("id")
                .map_err(bad)?
                .try_into()
                .map_err(|_| EscrowError::InvalidInput("escrow id".into()))?,
        );
        let public_key = PublicKey::from_spki_der(r.bytes("key").map_err(bad)?)
            .map_err(|e| EscrowError::InvalidInput(e.to_string()))?;
        let policy = r.str("policy").map_err(bad)?.to_string();
        let bound_token = TokenSerial::from_bytes(
            r.bytes("token")
                .map_err(bad)?
                .try_into()
                .map_err(|_| EscrowError::InvalidInput("token serial".into()))?,
        );
        let bound_device = Fingerprint::from_bytes(
            r.bytes("device")
                .map_err(bad)?
                .try_into()
                .map_err(|_| EscrowError::InvalidInput("device key".into()))?,
        );
        let commitments = Commitments::decode(&mut r)?;
        let blob = r.bytes("blob").map_err(bad)?.to_vec();
        r.finish().map_err(bad)?;
        Ok(Self {
            id,
            public_key,
            policy,
            bound_token,
            bound_device,
            commitments,
            blob,
        })
    }
}

/// A decoded share file.
struct ShareFile {
    escrow: Vec<u8>,
    key: Vec<u8>,
    policy: Vec<u8>,
    arbitrator: String,
    path: Path,
    value: Zeroizing<Vec<u8>>,
}

impl ShareFile {
    fn decode(file: &[u8]) -> Result<Self, crate::encoding::DecodeError> {
        let mut r = Reader::new(file);
        r.domain(SHARE_DOMAIN)?;
        let escrow = r.bytes("escrow")?.to_vec();
        let key = r.bytes("key")?.to_vec();
        let policy = r.bytes("policy")?.to_vec();
        let arbitrator = r.str("arbitrator")?.to_string();
        let n = r.u32("path")?;
        let path = (0..n.min(64))
            .map(|_| r.u16("path"))
            .collect::<Result<Path, _>>()?;
        let value = Zeroizing::new(r.bytes("value")?.to_vec());
        r.finish()?;
        Ok(Self {
            escrow,
            key,
            policy,
            arbitrator,
            path,
            value,
        })
    }
}

fn share_file(
    id: &EscrowId,
    fingerprint: &Fingerprint,
    policy_hash: &[u8; 32],
    arbitrator: &ArbitratorId,
    path: &[u16],
    value: &[u8; 32],
) -> Zeroizing<Vec<u8>> {
    let mut w = Writer::with_domain(SHARE_DOMAIN);
    w.bytes(id.as_bytes());
    w.bytes(fingerprint.as_bytes());
    w.bytes(policy_hash);
    w.str(arbitrator.as_str());
    w.u32(path.len() as u32);
    for p in path {
        w.u16(*p);
    }
    w.bytes(value);
    w.into_bytes()
}

/// The refusal of a share whose secret is not its node's.
pub(crate) fn share_mismatch(arbitrator: &ArbitratorId) -> EscrowError {
    EscrowError::BadShare {
        arbitrator: arbitrator.to_string(),
        reason: "it does not match the published commitments".into(),
    }
}
