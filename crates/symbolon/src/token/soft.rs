//! The soft token: the token state machine in process memory, its state
//! sealed at rest through a [`SealedStore`].
//!
//! Every change is built on a copy of the state, sealed under the next write
//! counter and handed to the store, which must replace the old sealed bytes
//! atomically; only then does the copy become the live state. A crash at any
//! point leaves the old state or the new one, never neither.

use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;
use zeroize::Zeroizing;

use super::state::{Slot, TokenState};
use super::{
    open_sealed, seal, tombstone, Attestation, AttestationEvidence, AttestationStatement,
    IssuerAction, JointToken, KeyOrigin, OpenFailure, SealedKind, SealingKey, SignedCommand,
    SlotName, Token, TokenError, TokenInfo, TokenSerial, TokenStatus,
};
use crate::content::{ChunkOpener, ContentHeader};
use crate::keys::{
    wrap, EcSigningInput, IdentityKeyPair, IdentityPublicKey, KeyAlgorithm, MessageDigest,
    PrivateKey, PublicKey, RsaAlgorithm, RsaPrivateKey, RsaPublicKey, SignatureScheme,
};

/// The size of a token's transport key: keys up to RSA-4096 travel wrapped
/// under an AES-256 key it protects, so 128-bit security is enough.
pub const TRANSPORT_KEY: RsaAlgorithm = RsaAlgorithm::Rsa3072;

/// A storage failure, described for the user.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Storage(e.0)
    }
}

/// Where sealed bytes live.
pub trait SealedStore {
    /// The current sealed bytes.
    fn load(&mut self) -> Result<Vec<u8>, StoreError>;
    /// Replaces the sealed bytes atomically: afterwards `load` yields either
    /// the old bytes or `sealed`, whatever happens in between.
    fn save(&mut self, sealed: &[u8]) -> Result<(), StoreError>;
    /// Destroys the sealed state (and any key material the store holds) and
    /// leaves `tombstone` in its place.
    fn zeroise(&mut self, tombstone: &[u8]) -> Result<(), StoreError>;
}

impl<S: SealedStore + ?Sized> SealedStore for &mut S {
    fn load(&mut self) -> Result<Vec<u8>, StoreError> {
        (**self).load()
    }
    fn save(&mut self, sealed: &[u8]) -> Result<(), StoreError> {
        (**self).save(sealed)
    }
    fn zeroise(&mut self, tombstone: &[u8]) -> Result<(), StoreError> {
        (**self).zeroise(tombstone)
    }
}

/// A store in memory, for tests and for embedding.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    /// The sealed bytes.
    pub data: Vec<u8>,
}

impl SealedStore for MemoryStore {
    fn load(&mut self) -> Result<Vec<u8>, StoreError> {
        Ok(self.data.clone())
    }
    fn save(&mut self, sealed: &[u8]) -> Result<(), StoreError> {
        self.data = sealed.to_vec();
        Ok(())
    }
    fn zeroise(&mut self, tombstone: &[u8]) -> Result<(), StoreError> {
        self.data = tombstone.to_vec();
        Ok(())
    }
}

enum Life {
    Live(TokenState),
    Dead(Option<TokenSerial>),
}

/// A token whose keys live in this process's memory and, sealed, in a store.
pub struct SoftToken<S: SealedStore> {
    store: S,
    key: SealingKey,
    life: Life,
    counter: u64,
}

impl<S: SealedStore> SoftToken<S> {
    /// Initialises a new token: a random serial, a device identity key and a
    /// transport key, an empty trust list; sealed into `store`.
    pub fn create(mut store: S, key: SealingKey) -> Result<Self, TokenError> {
        let state = TokenState {
            serial: TokenSerial::random()?,
            device_key: Arc::new(IdentityKeyPair::generate()?),
            transport_key: Arc::new(RsaPrivateKey::generate(TRANSPORT_KEY)?),
            trusted_issuers: Vec::new(),
            command_sequence: 0,
            slots: BTreeMap::new(),
            objects: BTreeMap::new(),
            joints: BTreeMap::new(),
        };
        let sealed = seal(SealedKind::Token, state.serial, 1, &state.encode(), &key)?;
        store.save(&sealed)?;
        Ok(Self {
            store,
            key,
            life: Life::Live(state),
            counter: 1,
        })
    }

    /// Opens a sealed token. A file that fails authentication under the right
    /// key is tampering: the store is zeroised and the token is dead.
    pub fn open(mut store: S, key: SealingKey) -> Result<Self, TokenError> {
        let data = store.load()?;
        match open_sealed(SealedKind::Token, &data, &key) {
            Ok((header, plaintext)) => {
                let state = TokenState::decode(&plaintext)?;
                if state.serial != header.serial {
                    return Err(TokenError::NotAToken(
                        "the sealed state names another serial than its header".into(),
                    ));
                }
                Ok(Self {
                    store,
                    key,
                    life: Life::Live(state),
                    counter: header.counter,
                })
            }
            Err(OpenFailure::Refuse(e)) => Err(e),
            Err(OpenFailure::Tampered(header)) => {
                // Best effort: the token is dead whether or not this succeeds.
                let _ = store.zeroise(&tombstone(
                    SealedKind::Token,
                    header.serial,
                    header.counter.saturating_add(1),
                ));
                Err(TokenError::Tampered {
                    serial: Some(header.serial),
                })
            }
        }
    }

    /// The serial, when it is known.
    pub fn serial(&self) -> Option<TokenSerial> {
        match &self.life {
            Life::Live(s) => Some(s.serial),
            Life::Dead(serial) => *serial,
        }
    }

    /// The write counter of the sealed state.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The store (for tests and for the file layer).
    pub fn store(&self) -> &S {
        &self.store
    }

    fn live(&self) -> Result<&TokenState, TokenError> {
        match &self.life {
            Life::Live(s) => Ok(s),
            Life::Dead(serial) => Err(TokenError::Tampered { serial: *serial }),
        }
    }

    fn commit(&mut self, next: TokenState) -> Result<(), TokenError> {
        let counter = self.counter + 1;
        let sealed = seal(
            SealedKind::Token,
            next.serial,
            counter,
            &next.encode(),
            &self.key,
        )?;
        self.store.save(&sealed)?;
        self.life = Life::Live(next);
        self.counter = counter;
        Ok(())
    }

    /// Checks an issuer command's trust, signature, target and sequence.
    fn check_command(&self, command: &SignedCommand) -> Result<(), TokenError> {
        let state = self.live()?;
        command.check(state.serial, state.command_sequence, &state.trusted_issuers)
    }
}

impl<S: SealedStore> SoftToken<S> {
    /// Stores a freshly generated (and pairwise-tested) key in `slot`.
    fn insert_generated(&mut self, slot: &SlotName, key: PrivateKey) -> Result<(), TokenError> {
        let mut next = self.live()?.clone();
        next.slots.insert(
            slot.clone(),
            Slot {
                key: Arc::new(key),
                origin: KeyOrigin::Generated,
                certificate: None,
            },
        );
        self.commit(next)
    }
}

fn certificate_key(der: &[u8]) -> Result<PublicKey, TokenError> {
    let invalid = |e: crate::x509::X509Error| TokenError::InvalidCertificate(e.to_string());
    crate::x509::certificate_public_key(&crate::x509::parse_certificate(der).map_err(invalid)?)
        .map_err(invalid)
}

impl<S: SealedStore> Token for SoftToken<S> {
    fn info(&self) -> Result<TokenInfo, TokenError> {
        Ok(self.live()?.info())
    }

    fn check_live(&self) -> Result<(), TokenError> {
        self.live().map(drop)
    }

    fn device_key(&self) -> Result<IdentityPublicKey, TokenError> {
        Ok(self.live()?.device_key.public_key().clone())
    }

    fn transport_key(&self) -> Result<RsaPublicKey, TokenError> {
        Ok(self.live()?.transport_key.public_key().clone())
    }

    fn trust_issuer(&mut self, issuer: &IdentityPublicKey) -> Result<(), TokenError> {
        let state = self.live()?;
        if state.status() != TokenStatus::New {
            return Err(TokenError::TrustFixed);
        }
        if state.trusted_issuers.contains(issuer) {
            return Err(TokenError::AlreadyTrusted(issuer.fingerprint()));
        }
        let mut next = state.clone();
        next.trusted_issuers.push(issuer.clone());
        self.commit(next)
    }

    fn generate(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
    ) -> Result<RsaPublicKey, TokenError> {
        if self.live()?.slot_taken(slot) {
            return Err(TokenError::SlotOccupied(slot.clone()));
        }
        let key = RsaPrivateKey::generate(algorithm)?;
        let public = key.public_key().clone();
        self.insert_generated(slot, PrivateKey::Rsa(key))?;
        Ok(public)
    }

    fn generate_key(
        &mut self,
        slot: &SlotName,
        algorithm: KeyAlgorithm,
    ) -> Result<PublicKey, TokenError> {
        if self.live()?.slot_taken(slot) {
            return Err(TokenError::SlotOccupied(slot.clone()));
        }
        let key = PrivateKey::generate(algorithm)?;
        let public = key.public_key();
        self.insert_generated(slot, key)?;
        Ok(public)
    }

    fn slot_public_key(&self, slot: &SlotName) -> Result<PublicKey, TokenError> {
        Ok(self.live()?.slot(slot)?.key.public_key())
    }

    fn sign_ec(&self, slot: &SlotName, input: EcSigningInput<'_>) -> Result<Vec<u8>, TokenError> {
        let state = self.live()?;
        let s = state.slot(slot)?;
        let key = s.key.as_ec().ok_or_else(|| TokenError::WrongKeyType {
            slot: slot.clone(),
            holds: s.key.algorithm(),
            operation: "EC signing (ecdsa-sha256, ecdsa-sha384, ed25519)",
            needs: "an EC key",
        })?;
        Ok(key.sign(input)?)
    }

    fn public_key(&self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        Ok(self
            .live()?
            .slot(slot)?
            .rsa(slot, "an RSA public key")?
            .public_key()
            .clone())
    }

    fn sign(
        &self,
        slot: &SlotName,
        scheme: SignatureScheme,
        digest: &MessageDigest,
    ) -> Result<Vec<u8>, TokenError> {
        Ok(self
            .live()?
            .slot(slot)?
            .rsa(slot, "RSA signing (pkcs1-*, pss-*)")?
            .sign_digest(scheme, digest)?)
    }

    fn decrypt(
        &self,
        slot: &SlotName,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        Ok(self
            .live()?
            .slot(slot)?
            .rsa(slot, "RSA-OAEP decryption")?
            .decrypt_oaep(ciphertext)?)
    }

    fn open_hpke(
        &self,
        slot: &SlotName,
        info: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        super::check_hpke_open(info, sealed)?;
        let state = self.live()?;
        let s = state.slot(slot)?;
        let key = s
            .key
            .as_ec()
            .filter(|k| k.curve().can_agree())
            .ok_or_else(|| super::no_hpke_key(slot, s.key.algorithm()))?;
        crate::keys::hpke::open::<TokenError>(key.public_key(), info, sealed, |e| Ok(key.agree(e)?))
    }

    fn joint(&self) -> Option<&dyn JointToken> {
        Some(self)
    }

    fn joint_mut(&mut self) -> Option<&mut dyn JointToken> {
        Some(self)
    }

    fn put_object(&mut self, name: &SlotName, data: &[u8]) -> Result<(), TokenError> {
        super::check_object(data)?;
        let state = self.live()?;
        if !state.objects.contains_key(name) && state.objects.len() >= super::MAX_OBJECTS {
            return Err(TokenError::InvalidInput(format!(
                "the token holds {} data objects already, the most it keeps",
                super::MAX_OBJECTS
            )));
        }
        let mut next = state.clone();
        next.objects.insert(name.clone(), data.to_vec());
        self.commit(next)
    }

    fn object(&self, name: &SlotName) -> Result<Vec<u8>, TokenError> {
        self.live()?
            .objects
            .get(name)
            .cloned()
            .ok_or_else(|| TokenError::ObjectNotFound(name.clone()))
    }

    fn objects(&self) -> Result<Vec<SlotName>, TokenError> {
        Ok(self.live()?.objects.keys().cloned().collect())
    }

    fn open_content(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
        wrapped_key: &[u8],
    ) -> Result<Box<dyn ChunkOpener + Send>, TokenError> {
        let state = self.live()?;
        let key = &state.slot(slot)?.key;
        if let Some(ec) = key.as_ec().filter(|k| !k.curve().can_agree()) {
            return Err(TokenError::WrongKeyType {
                slot: slot.clone(),
                holds: KeyAlgorithm::Ec(ec.curve()),
                operation: "opening sealed content",
                needs: "an RSA, P-256, P-384 or X25519 key",
            });
        }
        Ok(Box::new(crate::content::opener_for(
            key.as_ref(),
            header,
            wrapped_key,
        )?))
    }

    fn certificate(&self, slot: &SlotName) -> Result<Vec<u8>, TokenError> {
        self.live()?
            .slot(slot)?
            .certificate
            .clone()
            .ok_or_else(|| TokenError::NoCertificate(slot.clone()))
    }

    fn write_certificate(&mut self, command: &SignedCommand) -> Result<(), TokenError> {
        self.check_command(command)?;
        let IssuerAction::WriteCertificate { certificate } = &command.command.action else {
            return Err(TokenError::InvalidInput(
                "this command accepts a key; use accept-key".into(),
            ));
        };
        let slot_name = &command.command.slot;
        let state = self.live()?;
        let slot = state.slot(slot_name)?;
        if certificate_key(certificate)? != slot.key.public_key() {
            return Err(TokenError::CertificateMismatch(slot_name.clone()));
        }
        let mut next = state.clone();
        next.command_sequence += 1;
        if let Some(s) = next.slots.get_mut(slot_name) {
            s.certificate = Some(certificate.clone());
        }
        self.commit(next)
    }

    fn accept_key(&mut self, command: &SignedCommand) -> Result<PublicKey, TokenError> {
        self.check_command(command)?;
        let IssuerAction::AcceptKey {
            public_key,
            wrapped,
        } = &command.command.action
        else {
            return Err(TokenError::InvalidInput(
                "this command writes a certificate; use write-certificate".into(),
            ));
        };
        let slot_name = &command.command.slot;
        let state = self.live()?;
        if state.slot_taken(slot_name) {
            return Err(TokenError::SlotOccupied(slot_name.clone()));
        }
        let key = wrap::unwrap(wrapped, &state.transport_key)?;
        if &key.public_key() != public_key {
            return Err(TokenError::InvalidInput(
                "the wrapped key does not match the public key the command states".into(),
            ));
        }
        key.pairwise_consistency_test()?;
        let mut next = state.clone();
        next.command_sequence += 1;
        next.slots.insert(
            slot_name.clone(),
            Slot {
                key: Arc::new(key),
                origin: KeyOrigin::Issuer {
                    issuer: command.issuer.fingerprint(),
                },
                certificate: None,
            },
        );
        self.commit(next)?;
        Ok(public_key.clone())
    }

    fn attest(&self, slot: &SlotName, nonce: &[u8]) -> Result<Attestation, TokenError> {
        if nonce.len() > super::attestation::MAX_NONCE_LEN {
            return Err(TokenError::InvalidInput(format!(
                "the attestation nonce is {} bytes; at most {} are accepted",
                nonce.len(),
                super::attestation::MAX_NONCE_LEN
            )));
        }
        let state = self.live()?;
        let s = state.slot(slot)?;
        let statement = AttestationStatement {
            token: state.serial,
            device_key: state.device_key.public_key().clone(),
            slot: slot.clone(),
            public_key: s.key.public_key(),
            origin: s.origin,
            exportable: false,
            evidence: AttestationEvidence::SoftToken,
            nonce: nonce.to_vec(),
        };
        let signature = state.device_key.sign(&statement.to_be_signed())?;
        Ok(Attestation {
            statement,
            signature,
        })
    }

    fn tamper(&mut self) -> Result<(), TokenError> {
        let serial = self.serial();
        // Drop every key first: memory is zeroised whatever the store does.
        self.life = Life::Dead(serial);
        let serial = serial.ok_or(TokenError::Tampered { serial: None })?;
        self.store.zeroise(&tombstone(
            SealedKind::Token,
            serial,
            self.counter.saturating_add(1),
        ))?;
        Ok(())
    }
}

/// Why a joint operation found no joint key in `slot`: an ordinary key is
/// named as such, so the user is not told the slot is empty.
fn not_joint(state: &TokenState, slot: &SlotName) -> TokenError {
    if state.slots.contains_key(slot) {
        TokenError::InvalidInput(format!(
            "slot {slot:?} holds an ordinary key, not a joint key: joint operations take a slot `joint init` began"
        ))
    } else {
        TokenError::SlotNotFound(slot.clone())
    }
}

impl<S: SealedStore> JointToken for SoftToken<S> {
    fn joint_init(
        &mut self,
        slot: &SlotName,
        algorithm: RsaAlgorithm,
        e_start: u64,
        partial: &[u8],
    ) -> Result<u64, TokenError> {
        let state = self.live()?;
        // Unit 511: a new joint key only in an empty slot.
        if state.slot_taken(slot) {
            return Err(TokenError::SlotOccupied(slot.clone()));
        }
        let (joint, offset) = crate::joint::JointSlot::begin(algorithm, e_start, partial)?;
        let mut next = state.clone();
        next.joints.insert(slot.clone(), joint);
        self.commit(next)?;
        Ok(offset)
    }

    fn joint_contribute(&mut self, slot: &SlotName, partial: &[u8]) -> Result<u64, TokenError> {
        let state = self.live()?;
        let mut next = state.clone();
        let offset = next
            .joints
            .get_mut(slot)
            .ok_or_else(|| not_joint(state, slot))?
            .contribute(partial)?;
        self.commit(next)?;
        Ok(offset)
    }

    fn joint_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        let state = self.live()?;
        let joint = state
            .joints
            .get(slot)
            .ok_or_else(|| not_joint(state, slot))?;
        let (key, done) = joint.finish()?;
        // A key already in the slot (a state from before slots were
        // reserved for the joint key being made) is never replaced.
        if state.slots.contains_key(slot) {
            return Err(TokenError::SlotOccupied(slot.clone()));
        }
        let public = key.public_key().clone();
        let mut next = state.clone();
        next.joints.insert(slot.clone(), done);
        next.slots.insert(
            slot.clone(),
            Slot {
                key: Arc::new(PrivateKey::Rsa(key)),
                origin: KeyOrigin::Joint,
                certificate: None,
            },
        );
        self.commit(next)?;
        Ok(public)
    }

    fn joint_reissue_begin(
        &mut self,
        slot: &SlotName,
        permission: &crate::joint::ChainMessage,
    ) -> Result<(), TokenError> {
        let state = self.live()?;
        if state.slot_taken(slot) {
            return Err(TokenError::SlotOccupied(slot.clone()));
        }
        let joint = crate::joint::JointSlot::reissue(permission, state.serial, slot)?;
        let mut next = state.clone();
        next.joints.insert(slot.clone(), joint);
        self.commit(next)
    }

    fn joint_reissue_enter(&mut self, slot: &SlotName, partial: &[u8]) -> Result<(), TokenError> {
        let state = self.live()?;
        let mut next = state.clone();
        next.joints
            .get_mut(slot)
            .ok_or_else(|| not_joint(state, slot))?
            .reenter(partial)?;
        self.commit(next)
    }

    fn joint_reissue_finish(&mut self, slot: &SlotName) -> Result<RsaPublicKey, TokenError> {
        let state = self.live()?;
        let (key, done) = state
            .joints
            .get(slot)
            .ok_or_else(|| not_joint(state, slot))?
            .reissue_finish()?;
        if state.slots.contains_key(slot) {
            return Err(TokenError::SlotOccupied(slot.clone()));
        }
        let public = key.public_key().clone();
        let mut next = state.clone();
        next.joints.insert(slot.clone(), done);
        next.slots.insert(
            slot.clone(),
            Slot {
                key: Arc::new(PrivateKey::Rsa(key)),
                origin: KeyOrigin::Joint,
                certificate: None,
            },
        );
        self.commit(next)?;
        Ok(public)
    }

    fn joint_check(
        &self,
        slot: &SlotName,
        message: &crate::joint::ChainMessage,
    ) -> Result<crate::joint::ChainMessage, TokenError> {
        let state = self.live()?;
        let key = state.slot(slot)?.rsa(slot, "a joint key check")?;
        let joint = state
            .joints
            .get(slot)
            .ok_or_else(|| not_joint(state, slot))?;
        if message.key().spki_der() != key.public_key().spki_der() {
            return Err(TokenError::InvalidInput(format!(
                "the check is for another key than slot {slot}'s"
            )));
        }
        let (prefixes, signed) = joint.views(message)?;
        let signature = key.sign_digest(
            SignatureScheme::Pkcs1Sha256,
            &MessageDigest::of(SignatureScheme::Pkcs1Sha256.hash(), &signed),
        )?;
        let mut out = message.clone();
        out.set_views(crate::joint::chain::TokenViews {
            prefixes,
            signature: crate::joint::chain::Hex(signature),
        })?;
        Ok(out)
    }

    fn joint_rotate(
        &mut self,
        slot: &SlotName,
        step: crate::joint::RotateStep,
    ) -> Result<crate::joint::RotateOutcome, TokenError> {
        use crate::joint::{RotateOutcome, RotateStep};
        let state = self.live()?;
        let current = state.slot(slot)?;
        let joint = state
            .joints
            .get(slot)
            .ok_or_else(|| not_joint(state, slot))?;
        let mut next = state.clone();
        let outcome = match step {
            RotateStep::Begin { e_start } => {
                let rotating = joint.rotate_begin(
                    current.rsa(slot, "joint key rotation")?.public_key().bits() as u32,
                    e_start,
                )?;
                let public = rotating.rotation_public()?;
                next.joints.insert(slot.clone(), rotating);
                RotateOutcome::Begun { public }
            }
            RotateStep::Enter { party, old, new } => {
                let mut rotating = joint.clone();
                let offset = rotating.rotate_enter(
                    party as usize,
                    &old,
                    new.as_deref().map(|v| v.as_slice()),
                )?;
                let waiting = rotating.rotation_waiting();
                next.joints.insert(slot.clone(), rotating);
                RotateOutcome::Entered { offset, waiting }
            }
            RotateStep::Commit => {
                let (key, done) = joint.rotate_commit()?;
                let public = key.public_key().clone();
                next.joints.insert(slot.clone(), done);
                next.slots.insert(
                    slot.clone(),
                    Slot {
                        key: Arc::new(PrivateKey::Rsa(key)),
                        origin: KeyOrigin::Joint,
                        certificate: None,
                    },
                );
                RotateOutcome::Committed { public }
            }
        };
        self.commit(next)?;
        Ok(outcome)
    }

    fn joint_rewrap(
        &self,
        slot: &SlotName,
        header: &ContentHeader,
    ) -> Result<ContentHeader, TokenError> {
        let state = self.live()?;
        let joint = state
            .joints
            .get(slot)
            .ok_or_else(|| not_joint(state, slot))?;
        joint.rotation_ready()?;
        let to = joint.rotation_public()?;
        Ok(crate::content::rewrap(
            state.slot(slot)?.rsa(slot, "re-sealing content")?,
            header,
            &to,
        )?)
    }

    fn joint_output_d0(&mut self, slot: &SlotName, recipient: &str) -> Result<Vec<u8>, TokenError> {
        let state = self.live()?;
        let joint = state
            .joints
            .get(slot)
            .ok_or_else(|| not_joint(state, slot))?;
        let (released, ciphertext) = joint.release(state.serial, slot, recipient)?;
        let mut next = state.clone();
        next.joints.insert(slot.clone(), released);
        // Committed before the ciphertext leaves: see `joint::slot`.
        self.commit(next)?;
        Ok(ciphertext)
    }
}
