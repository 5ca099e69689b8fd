//! The token's plaintext state and its canonical encoding (sealed at rest).

use std::collections::BTreeMap;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{KeyOrigin, SlotInfo, SlotName, TokenError, TokenInfo, TokenSerial, TokenStatus};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::keys::{Fingerprint, IdentityKeyPair, IdentityPublicKey, PrivateKey, RsaPrivateKey};

const STATE_DOMAIN: &str = "symbolon/token-state/v1";
const ORIGIN_GENERATED: u8 = 1;
const ORIGIN_ISSUER: u8 = 2;
const ORIGIN_JOINT: u8 = 3;

/// One key slot.
#[derive(Clone)]
pub(crate) struct Slot {
    pub(crate) key: Arc<PrivateKey>,
    pub(crate) origin: KeyOrigin,
    pub(crate) certificate: Option<Vec<u8>>,
}

impl Slot {
    /// The slot's key for an RSA-only `operation`, or why not.
    pub(crate) fn rsa(
        &self,
        name: &SlotName,
        operation: &'static str,
    ) -> Result<&RsaPrivateKey, TokenError> {
        self.key.as_rsa().ok_or_else(|| TokenError::WrongKeyType {
            slot: name.clone(),
            holds: self.key.algorithm(),
            operation,
            needs: "an RSA key",
        })
    }
}

/// Everything a token knows. Cloning shares the keys (`Arc`), so a mutation
/// is built on a copy and only replaces the live state once it is sealed and
/// stored.
#[derive(Clone)]
pub(crate) struct TokenState {
    pub(crate) serial: TokenSerial,
    pub(crate) device_key: Arc<IdentityKeyPair>,
    pub(crate) transport_key: Arc<RsaPrivateKey>,
    pub(crate) trusted_issuers: Vec<IdentityPublicKey>,
    pub(crate) command_sequence: u64,
    pub(crate) slots: BTreeMap<SlotName, Slot>,
    /// The holder's data objects (not keys), sealed with the rest.
    pub(crate) objects: BTreeMap<SlotName, Vec<u8>>,
    /// Joint keys being made, or waiting for d0's release.
    pub(crate) joints: BTreeMap<SlotName, crate::joint::JointSlot>,
}

/// Optional sections after the slots, each `tag, u32 count, entries`.
const SECTION_OBJECTS: u8 = 1;
const SECTION_JOINTS: u8 = 2;

impl TokenState {
    /// Whether `slot` is taken: it holds a key, or a joint key is being
    /// made or re-entered there (FIG. 18, 20). A new key goes only into a
    /// slot that is neither, and nothing replaces a key.
    pub(crate) fn slot_taken(&self, slot: &SlotName) -> bool {
        self.slots.contains_key(slot) || self.joints.contains_key(slot)
    }

    pub(crate) fn status(&self) -> TokenStatus {
        if self.slots.is_empty() {
            TokenStatus::New
        } else {
            TokenStatus::Active
        }
    }

    pub(crate) fn info(&self) -> TokenInfo {
        TokenInfo {
            serial: self.serial,
            status: self.status(),
            device_key: self.device_key.public_key().fingerprint(),
            transport_key: self.transport_key.public_key().fingerprint(),
            trusted_issuers: self
                .trusted_issuers
                .iter()
                .map(|k| k.fingerprint())
                .collect(),
            command_sequence: self.command_sequence,
            slots: self
                .slots
                .iter()
                .map(|(name, s)| SlotInfo {
                    name: name.clone(),
                    algorithm: s.key.algorithm(),
                    fingerprint: s.key.public_key().fingerprint(),
                    origin: s.origin,
                    has_certificate: s.certificate.is_some(),
                })
                .collect(),
        }
    }

    pub(crate) fn slot(&self, name: &SlotName) -> Result<&Slot, TokenError> {
        self.slots
            .get(name)
            .ok_or_else(|| TokenError::SlotNotFound(name.clone()))
    }

    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::with_domain(STATE_DOMAIN);
        w.bytes(self.serial.as_bytes());
        w.u64(self.command_sequence);
        w.bytes(self.device_key.pkcs8_der());
        w.bytes(self.transport_key.pkcs8_der());
        w.u32(self.trusted_issuers.len() as u32);
        for issuer in &self.trusted_issuers {
            w.bytes(issuer.spki_der());
        }
        w.u32(self.slots.len() as u32);
        for (name, slot) in &self.slots {
            w.str(name.as_str());
            match slot.origin {
                KeyOrigin::Generated => w.u8(ORIGIN_GENERATED),
                KeyOrigin::Issuer { issuer } => {
                    w.u8(ORIGIN_ISSUER);
                    w.bytes(issuer.as_bytes());
                }
                KeyOrigin::Joint => w.u8(ORIGIN_JOINT),
            }
            w.bytes(slot.key.pkcs8_der());
            match &slot.certificate {
                None => w.bool(false),
                Some(cert) => {
                    w.bool(true);
                    w.bytes(cert);
                }
            }
        }
        // Optional sections: states written before they existed end above.
        if !self.objects.is_empty() {
            w.u8(SECTION_OBJECTS);
            w.u32(self.objects.len() as u32);
            for (name, data) in &self.objects {
                w.str(name.as_str());
                w.bytes(data);
            }
        }
        if !self.joints.is_empty() {
            w.u8(SECTION_JOINTS);
            w.u32(self.joints.len() as u32);
            for (name, joint) in &self.joints {
                w.str(name.as_str());
                joint.encode(&mut w);
            }
        }
        w.into_bytes()
    }

    pub(crate) fn decode(data: &[u8]) -> Result<Self, TokenError> {
        let bad =
            |e: DecodeError| TokenError::NotAToken(format!("sealed state does not decode: {e}"));
        let mut r = Reader::new(data);
        r.domain(STATE_DOMAIN).map_err(bad)?;
        let serial =
            TokenSerial::from_bytes(r.bytes("serial").map_err(bad)?.try_into().map_err(|_| {
                bad(DecodeError::Invalid {
                    field: "serial",
                    reason: "not 16 bytes",
                })
            })?);
        let command_sequence = r.u64("command sequence").map_err(bad)?;
        let device_key = Arc::new(IdentityKeyPair::from_pkcs8_der(Zeroizing::new(
            r.bytes("device key").map_err(bad)?.to_vec(),
        ))?);
        let transport_key = Arc::new(RsaPrivateKey::from_pkcs8_der(Zeroizing::new(
            r.bytes("transport key").map_err(bad)?.to_vec(),
        ))?);
        let n = r.u32("issuer count").map_err(bad)?;
        let mut trusted_issuers = Vec::new();
        for _ in 0..n {
            trusted_issuers.push(IdentityPublicKey::from_spki_der(
                r.bytes("issuer").map_err(bad)?,
            )?);
        }
        let n = r.u32("slot count").map_err(bad)?;
        let mut slots = BTreeMap::new();
        for _ in 0..n {
            let name = SlotName::new(r.str("slot name").map_err(bad)?)?;
            let origin = match r.u8("origin").map_err(bad)? {
                ORIGIN_GENERATED => KeyOrigin::Generated,
                ORIGIN_JOINT => KeyOrigin::Joint,
                ORIGIN_ISSUER => {
                    let fp: [u8; 32] = r
                        .bytes("issuer fingerprint")
                        .map_err(bad)?
                        .try_into()
                        .map_err(|_| {
                            bad(DecodeError::Invalid {
                                field: "issuer fingerprint",
                                reason: "not 32 bytes",
                            })
                        })?;
                    KeyOrigin::Issuer {
                        issuer: Fingerprint::from_bytes(fp),
                    }
                }
                _ => {
                    return Err(bad(DecodeError::Invalid {
                        field: "origin",
                        reason: "unknown",
                    }))
                }
            };
            // RSA or EC, by the algorithm the PKCS#8 names.
            let key = Arc::new(PrivateKey::from_pkcs8_der(Zeroizing::new(
                r.bytes("slot key").map_err(bad)?.to_vec(),
            ))?);
            let certificate = if r.bool("certificate present").map_err(bad)? {
                Some(r.bytes("certificate").map_err(bad)?.to_vec())
            } else {
                None
            };
            slots.insert(
                name,
                Slot {
                    key,
                    origin,
                    certificate,
                },
            );
        }
        let mut objects = BTreeMap::new();
        let mut joints = BTreeMap::new();
        while r.remaining() > 0 {
            match r.u8("section").map_err(bad)? {
                SECTION_OBJECTS => {
                    let n = r.u32("object count").map_err(bad)?;
                    for _ in 0..n {
                        let name = SlotName::new(r.str("object name").map_err(bad)?)?;
                        objects.insert(name, r.bytes("object").map_err(bad)?.to_vec());
                    }
                }
                SECTION_JOINTS => {
                    let n = r.u32("joint count").map_err(bad)?;
                    for _ in 0..n {
                        let name = SlotName::new(r.str("joint slot").map_err(bad)?)?;
                        joints.insert(name, crate::joint::JointSlot::decode(&mut r).map_err(bad)?);
                    }
                }
                _ => {
                    return Err(bad(DecodeError::Invalid {
                        field: "section",
                        reason: "unknown (written by a newer symbolon?)",
                    }))
                }
            }
        }
        r.finish().map_err(bad)?;
        // States written before joint keys had an origin of their own
        // recorded a composed key as generated.
        for (name, slot) in slots.iter_mut() {
            if joints.get(name).is_some_and(|j| j.holds_composed_key())
                && slot.origin == KeyOrigin::Generated
            {
                slot.origin = KeyOrigin::Joint;
            }
        }
        Ok(Self {
            serial,
            device_key,
            transport_key,
            trusted_issuers,
            command_sequence,
            slots,
            objects,
            joints,
        })
    }
}
