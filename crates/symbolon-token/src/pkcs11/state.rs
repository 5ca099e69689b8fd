//! What a PKCS#11 token remembers for symbolon beyond its key objects: the
//! serial issuer commands name, the command sequence, the trust list, and
//! where each slot's key came from. One private data object
//! (`CKO_DATA`, label `symbolon:state`) in the canonical encoding; after a
//! tamper it holds a tombstone instead.
//!
//! Devices may refuse to change a data object's value (SoftHSM2 does), so a
//! save creates the next generation and then destroys the older ones; a
//! reader takes the highest generation, so a crash between the two steps
//! leaves the old or the new state, never neither.

use std::collections::BTreeMap;

use symbolon::encoding::{Reader, Writer};
use symbolon::keys::{Fingerprint, IdentityPublicKey};
use symbolon::token::{KeyOrigin, SlotName, TokenError, TokenSerial};

const DOMAIN: &str = "symbolon pkcs11 state v1";
const TOMBSTONE: &str = "symbolon pkcs11 tombstone v1";

/// The state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    /// Incremented by every save.
    pub(crate) generation: u64,
    pub(crate) serial: TokenSerial,
    pub(crate) command_sequence: u64,
    pub(crate) trusted_issuers: Vec<IdentityPublicKey>,
    /// Slots whose keys entered through symbolon, and how.
    pub(crate) origins: BTreeMap<SlotName, KeyOrigin>,
    /// Whether a key has entered: the trust list is fixed from then on.
    pub(crate) active: bool,
}

/// What the state object holds.
pub(crate) enum Stored {
    Live(State),
    Tombstone(TokenSerial),
}

impl State {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(DOMAIN);
        w.u64(self.generation);
        w.bytes(self.serial.as_bytes());
        w.u64(self.command_sequence);
        w.bool(self.active);
        w.u32(self.trusted_issuers.len() as u32);
        for i in &self.trusted_issuers {
            w.bytes(i.spki_der());
        }
        w.u32(self.origins.len() as u32);
        for (slot, origin) in &self.origins {
            w.str(slot.as_str());
            match origin {
                KeyOrigin::Generated => w.u8(1),
                KeyOrigin::Issuer { issuer } => {
                    w.u8(2);
                    w.bytes(issuer.as_bytes());
                }
                // A device holds no joint keys (no joint capability), but
                // the encoding names every origin.
                KeyOrigin::Joint => w.u8(3),
            }
        }
        w.into_bytes().to_vec()
    }

    pub(crate) fn tombstone(serial: TokenSerial) -> Vec<u8> {
        let mut w = Writer::with_domain(TOMBSTONE);
        w.bytes(serial.as_bytes());
        w.into_bytes().to_vec()
    }
}

fn serial_of(b: &[u8]) -> Result<TokenSerial, TokenError> {
    Ok(TokenSerial::from_bytes(
        b.try_into().map_err(|_| corrupt("serial"))?,
    ))
}

fn corrupt(what: &str) -> TokenError {
    TokenError::NotAToken(format!(
        "the symbolon state object on the PKCS#11 token is corrupt ({what})"
    ))
}

pub(crate) fn decode(data: &[u8]) -> Result<Stored, TokenError> {
    let d = |e: symbolon::encoding::DecodeError| corrupt(&e.to_string());
    let mut r = Reader::new(data);
    if r.domain(TOMBSTONE).is_ok() {
        let serial = serial_of(r.bytes("serial").map_err(d)?)?;
        r.finish().map_err(d)?;
        return Ok(Stored::Tombstone(serial));
    }
    let mut r = Reader::new(data);
    r.domain(DOMAIN).map_err(d)?;
    let generation = r.u64("generation").map_err(d)?;
    let serial = serial_of(r.bytes("serial").map_err(d)?)?;
    let command_sequence = r.u64("sequence").map_err(d)?;
    let active = r.bool("active").map_err(d)?;
    let n = r.u32("issuers").map_err(d)?;
    let mut trusted_issuers = Vec::new();
    for _ in 0..n.min(1024) {
        trusted_issuers.push(
            IdentityPublicKey::from_spki_der(r.bytes("issuer").map_err(d)?)
                .map_err(|e| corrupt(&e.to_string()))?,
        );
    }
    let n = r.u32("origins").map_err(d)?;
    let mut origins = BTreeMap::new();
    for _ in 0..n.min(65536) {
        let slot = SlotName::new(r.str("slot").map_err(d)?).map_err(|e| corrupt(&e.to_string()))?;
        let origin = match r.u8("origin").map_err(d)? {
            1 => KeyOrigin::Generated,
            3 => KeyOrigin::Joint,
            2 => KeyOrigin::Issuer {
                issuer: Fingerprint::from_bytes(
                    r.bytes("issuer")
                        .map_err(d)?
                        .try_into()
                        .map_err(|_| corrupt("issuer"))?,
                ),
            },
            _ => return Err(corrupt("origin")),
        };
        origins.insert(slot, origin);
    }
    r.finish().map_err(d)?;
    Ok(Stored::Live(State {
        generation,
        serial,
        command_sequence,
        trusted_issuers,
        origins,
        active,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tombstone() {
        let mut origins = BTreeMap::new();
        origins.insert(SlotName::new("a").unwrap(), KeyOrigin::Generated);
        origins.insert(
            SlotName::new("b").unwrap(),
            KeyOrigin::Issuer {
                issuer: Fingerprint::from_bytes([3; 32]),
            },
        );
        let s = State {
            generation: 3,
            serial: TokenSerial::from_bytes([1; 16]),
            command_sequence: 7,
            trusted_issuers: vec![],
            origins,
            active: true,
        };
        match decode(&s.encode()).unwrap() {
            Stored::Live(back) => assert_eq!(back, s),
            Stored::Tombstone(_) => panic!("live state read as a tombstone"),
        }
        assert!(matches!(
            decode(&State::tombstone(s.serial)).unwrap(),
            Stored::Tombstone(t) if t == s.serial
        ));
        let mut bad = s.encode();
        bad.truncate(bad.len() - 1);
        assert!(decode(&bad).is_err());
    }
}
