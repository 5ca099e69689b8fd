//! The fifth embodiment's chained-signature protocols as message files that
//! the parties pass around (by hand or through the service's mailbox):
//!
//! - **Check** — the honest-generation check (FIG. 19, steps 5–17). The user
//!   draws a challenge r; the token signs it with the whole key, D(r), and
//!   adds its *views*: r with the first j partials applied, for every j,
//!   signed with the joint key. Each party in turn applies its partial to the
//!   previous link; a link equal to the token's view shows that the party's
//!   partial is the one the token holds (a wrong partial is named at once),
//!   and the last link, D_{k−1}(…D_0(r)), must equal D(r) with
//!   E(D_{k−1}(…D_0(r))) = r — the partials, applied by their holders, make
//!   the token's key.
//! - **Reissue** — the request form (FIG. 20, steps 601–613): signed first
//!   with the user's d0, then by every other party in turn, each of which
//!   reads the form first and may refuse. Permission exists only when
//!   E(D_{k−1}(…D_1(D_0(Form)))) = Form; the new token checks exactly that
//!   before it accepts any partial.
//!
//! What is signed is never a raw value: "Form" and "r" stand for the
//! EMSA-PKCS1-v1_5 encoding with SHA-256 (RFC 8017 §9.2) of a domain-separated
//! message that every party rebuilds from the file's fields (purpose, id, key,
//! roster, then the challenge or the form). Hashing always — not only when the
//! form is longer than n, as the patent allows — keeps the chain from being a
//! raw-RSA oracle, and makes the complete chain an ordinary RSASSA-PKCS1-v1_5
//! signature that any RSA tool verifies. The patent's k rotating chains
//! collapse into one: every value in the file is public, so each party checks
//! the final link with e itself.
//!
//! Residual risk, stated: in the reissue chain a middle party applies its
//! partial to a value it cannot check (D_0(Form) is checkable only with all
//! the partials — the patent's construction; the token that could vouch for
//! it is the one that was lost). Its link is useful only to a coalition of
//! every other party, the user's d0 included.

use std::fmt;

use crypto_bigint::BoxedUint;
use serde::{Deserialize, Serialize};

use super::arith::{emsa_pkcs1_sha256, fit, from_be, params, pow_mod, pow_public, to_be_len};
use super::JointError;
use crate::encoding::Writer;
use crate::keys::{RsaPublicKey, SignatureScheme};
use crate::token::{SlotName, TokenSerial};

/// The file format's name and version.
pub const FORMAT: &str = "symbolon-joint-chain/1";
/// The most parties a joint key has (the token takes 16 partials and d0).
pub const MAX_PARTIES: usize = 17;
const MESSAGE_DOMAIN: &str = "symbolon joint chain v1";
const VIEWS_DOMAIN: &str = "symbolon joint views v1";
const MAX_REASON: usize = 2000;

/// A party's name in a roster: 1 to 32 characters of `a-z 0-9 . _ -`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartyName(String);

impl PartyName {
    /// Validates a name.
    pub fn new(name: &str) -> Result<Self, JointError> {
        let ok = (1..=32).contains(&name.len())
            && name.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            });
        if !ok {
            return Err(JointError::InvalidInput(format!(
                "{name:?} is not a party name (1 to 32 of a-z 0-9 . _ -)"
            )));
        }
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PartyName {
    type Error = JointError;
    fn try_from(s: String) -> Result<Self, JointError> {
        Self::new(&s)
    }
}

impl From<PartyName> for String {
    fn from(p: PartyName) -> String {
        p.0
    }
}

impl fmt::Display for PartyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Public bytes (chain values, ids) as hex in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hex(pub Vec<u8>);

impl TryFrom<String> for Hex {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        hex::decode(&s)
            .map(Hex)
            .map_err(|e| format!("not hex: {e}"))
    }
}

impl From<Hex> for String {
    fn from(h: Hex) -> String {
        hex::encode(h.0)
    }
}

/// A chain file's id: 16 random bytes, 32 hex digits (the mailbox's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChainId([u8; 16]);

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for ChainId {
    type Err = JointError;
    fn from_str(s: &str) -> Result<Self, JointError> {
        let bytes = hex::decode(s.trim())
            .ok()
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .ok_or_else(|| {
                JointError::InvalidInput(format!("{s:?} is not a chain id (32 hex digits)"))
            })?;
        Ok(Self(bytes))
    }
}

impl Serialize for ChainId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a chain is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// The honest-generation check (FIG. 19).
    Check,
    /// A request to reissue the key into a new token (FIG. 20).
    Reissue,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Reissue => "reissue",
        }
    }
}

/// The reissue request form: which new token and slot are to hold the key,
/// and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReissueForm {
    /// Why (lost, destroyed …), for the parties to judge.
    pub reason: String,
    /// The new token.
    pub token: TokenSerial,
    /// Its slot.
    pub slot: String,
    /// When the user made the request (Unix seconds).
    pub requested_at: u64,
}

/// The token's views for a check: W_j = x with partials d0 … d_{j−1}
/// applied, j = 1 … k (W_k = D(x)), signed with the joint key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenViews {
    /// W_1 … W_k.
    pub prefixes: Vec<Hex>,
    /// RSASSA-PKCS1-v1_5-SHA-256 by the joint key over the views.
    pub signature: Hex,
}

/// One party's link: its partial applied to the previous link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Who.
    pub party: PartyName,
    /// D_i(previous), big-endian, as long as n.
    pub value: Hex,
}

/// A party's refusal; the chain ends there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// Who.
    pub party: PartyName,
    /// Why.
    pub reason: String,
}

/// Where a chain stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainStatus {
    /// Waiting for this party (by roster position).
    Awaiting(usize),
    /// Every party signed and the last link verifies with e.
    Complete,
    /// A party refused.
    Refused(Refusal),
}

impl ChainStatus {
    /// `awaiting`, `complete` or `refused`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Awaiting(_) => "awaiting",
            Self::Complete => "complete",
            Self::Refused(_) => "refused",
        }
    }
}

/// A chain message file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainMessage {
    format: String,
    purpose: Purpose,
    id: Hex,
    key: String,
    parties: Vec<PartyName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    challenge: Option<Hex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    form: Option<ReissueForm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    views: Option<TokenViews>,
    links: Vec<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refusal: Option<Refusal>,
}

fn invalid(msg: impl Into<String>) -> JointError {
    JointError::Chain(msg.into())
}

fn random<const N: usize>() -> Result<[u8; N], JointError> {
    let mut b = [0u8; N];
    crate::keys::random_bytes(&mut b).map_err(|e| JointError::Internal(e.to_string()))?;
    Ok(b)
}

fn roster(parties: &[PartyName]) -> Result<(), JointError> {
    if !(2..=MAX_PARTIES).contains(&parties.len()) {
        return Err(invalid(format!(
            "a joint key has 2 to {MAX_PARTIES} parties; the roster names {}",
            parties.len()
        )));
    }
    for (i, p) in parties.iter().enumerate() {
        if parties[..i].contains(p) {
            return Err(invalid(format!("{p} appears twice in the roster")));
        }
    }
    Ok(())
}

impl ChainMessage {
    /// A check (FIG. 19) for the key `key` held by `parties` (the user, d0's
    /// holder, first; then the others in the order their partials entered
    /// the token), with a fresh challenge; the token adds its views.
    pub fn new_check(key: &RsaPublicKey, parties: Vec<PartyName>) -> Result<Self, JointError> {
        roster(&parties)?;
        Ok(Self {
            format: FORMAT.into(),
            purpose: Purpose::Check,
            id: Hex(random::<16>()?.to_vec()),
            key: key.to_pem(),
            parties,
            challenge: Some(Hex(random::<32>()?.to_vec())),
            form: None,
            views: None,
            links: Vec::new(),
            refusal: None,
        })
    }

    /// A reissue request (FIG. 20) for `key`, naming the new token and slot.
    pub fn new_reissue(
        key: &RsaPublicKey,
        parties: Vec<PartyName>,
        form: ReissueForm,
    ) -> Result<Self, JointError> {
        roster(&parties)?;
        let message = Self {
            format: FORMAT.into(),
            purpose: Purpose::Reissue,
            id: Hex(random::<16>()?.to_vec()),
            key: key.to_pem(),
            parties,
            challenge: None,
            form: Some(form),
            views: None,
            links: Vec::new(),
            refusal: None,
        };
        message.validate()?;
        Ok(message)
    }

    /// Parses and validates a file (structure only; [`Self::status`] checks
    /// the arithmetic).
    pub fn parse(bytes: &[u8]) -> Result<Self, JointError> {
        let message: Self = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("not a joint chain file: {e}")))?;
        message.validate()?;
        Ok(message)
    }

    /// The file's text.
    pub fn to_json(&self) -> Result<String, JointError> {
        serde_json::to_string_pretty(self)
            .map(|text| text + "\n")
            .map_err(|e| JointError::Internal(format!("chain file: {e}")))
    }

    fn validate(&self) -> Result<(), JointError> {
        if self.format != FORMAT {
            return Err(invalid(format!(
                "format {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        roster(&self.parties)?;
        if self.id.0.len() != 16 {
            return Err(invalid("the id is 16 bytes"));
        }
        let key = self.key()?;
        let k = key.modulus().len();
        match self.purpose {
            Purpose::Check => {
                if self.challenge.as_ref().map(|c| c.0.len()) != Some(32) || self.form.is_some() {
                    return Err(invalid("a check carries a 32-byte challenge and no form"));
                }
                if let Some(v) = &self.views {
                    if v.prefixes.len() != self.parties.len()
                        || v.prefixes.iter().any(|p| p.0.len() != k)
                    {
                        return Err(invalid(
                            "the token's views are one value as long as n per party",
                        ));
                    }
                }
            }
            Purpose::Reissue => {
                let Some(form) = &self.form else {
                    return Err(invalid("a reissue request carries a form"));
                };
                if self.challenge.is_some() || self.views.is_some() {
                    return Err(invalid("a reissue request carries no challenge or views"));
                }
                if form.reason.trim().is_empty() || form.reason.len() > MAX_REASON {
                    return Err(invalid(format!(
                        "the form's reason is 1 to {MAX_REASON} bytes"
                    )));
                }
                SlotName::new(&form.slot).map_err(|e| invalid(e.to_string()))?;
            }
        }
        if self.links.len() > self.parties.len() {
            return Err(invalid("more links than parties"));
        }
        if self.links.iter().any(|l| l.value.0.len() != k) {
            return Err(invalid("every link is a value as long as n"));
        }
        if let Some(r) = &self.refusal {
            if r.reason.trim().is_empty() || r.reason.len() > MAX_REASON {
                return Err(invalid(format!(
                    "a refusal's reason is 1 to {MAX_REASON} bytes"
                )));
            }
        }
        Ok(())
    }

    /// What the chain is for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The joint public key.
    pub fn key(&self) -> Result<RsaPublicKey, JointError> {
        let key = RsaPublicKey::from_pem_or_der(self.key.as_bytes())
            .map_err(|e| invalid(format!("the key: {e}")))?;
        key.check_policy()
            .map_err(|e| invalid(format!("the key: {e}")))?;
        Ok(key)
    }

    /// The roster, d0's holder first.
    pub fn parties(&self) -> &[PartyName] {
        &self.parties
    }

    /// The id.
    pub fn id(&self) -> ChainId {
        // `validate` holds it to 16 bytes.
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.id.0[..16]);
        ChainId(b)
    }

    /// The reissue form, for a reissue request.
    pub fn form(&self) -> Option<&ReissueForm> {
        self.form.as_ref()
    }

    /// The links so far.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The refusal, if a party refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        self.refusal.as_ref()
    }

    /// The message the chain signs (domain, purpose, id, key, roster, then
    /// the challenge or the form): the complete chain is an ordinary
    /// RSASSA-PKCS1-v1_5-SHA-256 signature over these bytes.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(MESSAGE_DOMAIN);
        w.str(self.purpose.as_str());
        w.bytes(&self.id.0);
        w.str(&self.key);
        w.u32(self.parties.len() as u32);
        for p in &self.parties {
            w.str(p.as_str());
        }
        if let Some(c) = &self.challenge {
            w.bytes(&c.0);
        }
        if let Some(f) = &self.form {
            w.str(&f.reason);
            w.bytes(f.token.as_bytes());
            w.str(&f.slot);
            w.u64(f.requested_at);
        }
        w.into_bytes().to_vec()
    }

    /// The bytes the token's views signature covers.
    pub fn views_message(&self, prefixes: &[Hex]) -> Vec<u8> {
        let mut w = Writer::with_domain(VIEWS_DOMAIN);
        w.bytes(&self.signed_message());
        w.u32(prefixes.len() as u32);
        for p in prefixes {
            w.bytes(&p.0);
        }
        w.into_bytes().to_vec()
    }

    /// x: the encoded message every link chain starts from.
    pub fn encoded(&self) -> Result<Vec<u8>, JointError> {
        self.encoded_for(&self.key()?)
    }

    fn encoded_for(&self, key: &RsaPublicKey) -> Result<Vec<u8>, JointError> {
        emsa_pkcs1_sha256(&self.signed_message(), key.modulus().len())
    }

    /// Sets the token's views (the token's own step; see `Token::joint_check`).
    pub fn set_views(&mut self, views: TokenViews) -> Result<(), JointError> {
        if self.purpose != Purpose::Check || !self.links.is_empty() {
            return Err(invalid("views belong to a new check"));
        }
        self.views = Some(views);
        self.validate()
    }

    /// Checks everything that can be checked and says where the chain
    /// stands: the roster order of the links, the token's views (signed with
    /// the joint key, E(D(r)) = r, each link equal to its view — a party
    /// whose link differs is named), and for a complete chain that the last
    /// link verifies with e.
    pub fn status(&self) -> Result<ChainStatus, JointError> {
        self.validate()?;
        let key = self.key()?;
        let bits = key.bits() as u32;
        let n = from_be(key.modulus(), bits)?;
        let e = from_be(key.exponent(), bits)?;
        let p = params(&n)?;
        let x = from_be(&self.encoded_for(&key)?, bits)?;
        let verifies = |v: &[u8]| -> Result<bool, JointError> {
            Ok(fit(&pow_public(&from_be(v, bits)?, &e, &p), bits) == x)
        };
        for (i, link) in self.links.iter().enumerate() {
            if link.party != self.parties[i] {
                return Err(JointError::OutOfOrder(format!(
                    "link {} is by {} but {} signs at that place in the roster ({}): the chain is out of order",
                    i + 1,
                    link.party,
                    self.parties[i],
                    self.roster_text()
                )));
            }
        }
        if self.purpose == Purpose::Check {
            let Some(views) = &self.views else {
                return Err(invalid(
                    "the check has no token views yet (`joint check-begin` makes them)",
                ));
            };
            key.verify(
                SignatureScheme::Pkcs1Sha256,
                &self.views_message(&views.prefixes),
                &views.signature.0,
            )
            .map_err(|_| {
                JointError::DoesNotVerify(
                    "the token's views are not signed by the joint key: the file was altered"
                        .into(),
                )
            })?;
            let full = &views.prefixes[views.prefixes.len() - 1];
            if !verifies(&full.0)? {
                return Err(JointError::DoesNotVerify(
                    "the token's signature D(r) does not verify: E(D(r)) ≠ r (FIG. 19 steps 10–11)"
                        .into(),
                ));
            }
            for (i, link) in self.links.iter().enumerate() {
                if link.value != views.prefixes[i] {
                    return Err(JointError::WrongPartial {
                        party: link.party.to_string(),
                        detail: format!(
                            "link {} does not equal the token's view: {}'s partial is not the one the token holds",
                            i + 1,
                            link.party
                        ),
                    });
                }
            }
        }
        if self.links.len() == self.parties.len() {
            let last = &self.links[self.links.len() - 1];
            if !verifies(&last.value.0)? {
                return Err(JointError::DoesNotVerify(match self.purpose {
                    Purpose::Reissue => "E(D_{k−1}(…D_0(Form))) ≠ Form: a partial in the chain is wrong, or the form was altered after it was signed".into(),
                    Purpose::Check => "E(D_{k−1}(…D_0(r))) ≠ r: the partials do not make the key".into(),
                }));
            }
            if self.refusal.is_some() {
                return Err(invalid("a complete chain carries no refusal"));
            }
            return Ok(ChainStatus::Complete);
        }
        if let Some(r) = &self.refusal {
            if r.party != self.parties[self.links.len()] {
                return Err(JointError::OutOfOrder(format!(
                    "the refusal is by {}, but {} was to sign next",
                    r.party,
                    self.parties[self.links.len()]
                )));
            }
            return Ok(ChainStatus::Refused(r.clone()));
        }
        Ok(ChainStatus::Awaiting(self.links.len()))
    }

    /// The roster as text: `alice → issuer → provider`.
    pub fn roster_text(&self) -> String {
        self.parties
            .iter()
            .map(PartyName::as_str)
            .collect::<Vec<_>>()
            .join(" → ")
    }

    fn turn(&self, party: &PartyName) -> Result<usize, JointError> {
        match self.status()? {
            ChainStatus::Awaiting(i) if &self.parties[i] == party => Ok(i),
            ChainStatus::Awaiting(i) => Err(JointError::NotYourTurn(format!(
                "{} signs next, not {party} (roster: {})",
                self.parties[i],
                self.roster_text()
            ))),
            ChainStatus::Complete => Err(JointError::NotYourTurn(
                "the chain is complete already".into(),
            )),
            ChainStatus::Refused(r) => Err(JointError::Refused {
                party: r.party.to_string(),
                reason: r.reason,
            }),
        }
    }

    /// `party` applies its partial `partial` (as it signs with: corrected,
    /// or d0) to the previous link. Checked before anything is added: in a
    /// check, the new link must equal the token's view (else the party's own
    /// partial is wrong); the last link must verify with e (else an earlier
    /// partial is wrong or the message was altered — the patent's steps
    /// 605/607 refuse permission). Returns where the chain then stands.
    pub fn sign(&mut self, party: &PartyName, partial: &[u8]) -> Result<ChainStatus, JointError> {
        let i = self.turn(party)?;
        let key = self.key()?;
        let bits = key.bits() as u32;
        let n = from_be(key.modulus(), bits)?;
        let p = params(&n)?;
        let previous = match i {
            0 => self.encoded_for(&key)?,
            _ => self.links[i - 1].value.0.clone(),
        };
        let d = zeroize::Zeroizing::new(from_be(partial, bits.max(partial.len() as u32 * 8))?);
        let value = to_be_len(
            &pow_mod(&from_be(&previous, bits)?, &d, &p),
            key.modulus().len(),
        );
        if let Some(views) = &self.views {
            if value != views.prefixes[i].0 {
                return Err(JointError::WrongPartial {
                    party: party.to_string(),
                    detail: format!(
                        "{party}'s partial does not give the token's view: it is not the partial the token holds for {party} (nothing was added)"
                    ),
                });
            }
        }
        let mut next = self.clone();
        next.links.push(Link {
            party: party.clone(),
            value: Hex(value),
        });
        // The last link must verify; `status` says why not.
        let status = next.status()?;
        *self = next;
        Ok(status)
    }

    /// `party`, whose turn it is, refuses; the chain ends. Returns the
    /// refused status.
    pub fn refuse(&mut self, party: &PartyName, reason: &str) -> Result<ChainStatus, JointError> {
        self.turn(party)?;
        let mut next = self.clone();
        next.refusal = Some(Refusal {
            party: party.clone(),
            reason: reason.to_string(),
        });
        next.validate()?;
        let status = ChainStatus::Refused(Refusal {
            party: party.clone(),
            reason: reason.to_string(),
        });
        *self = next;
        Ok(status)
    }

    /// Whether `later` is this file with more links (or a refusal) added and
    /// nothing else changed: what the mailbox accepts as an update.
    /// A refused chain is final: nothing extends it.
    pub fn is_extended_by(&self, later: &Self) -> bool {
        if self.refusal.is_some()
            || later.links.len() < self.links.len()
            || later.links[..self.links.len()] != self.links
        {
            return false;
        }
        let mut base = later.clone();
        base.links.truncate(self.links.len());
        base.refusal = None;
        base == *self && (later.links.len() > self.links.len() || later.refusal.is_some())
    }
}

/// The token's side of a check: the views W_1 … W_k of `message`'s
/// encoding under `partials` (d0 first), and the bytes to sign them with.
pub(crate) fn views(
    message: &ChainMessage,
    partials: &[zeroize::Zeroizing<Vec<u8>>],
) -> Result<(Vec<Hex>, Vec<u8>), JointError> {
    if partials.len() != message.parties.len() {
        return Err(invalid(format!(
            "the roster names {} parties, but {} partials made this key",
            message.parties.len(),
            partials.len()
        )));
    }
    let key = message.key()?;
    let k = key.modulus().len();
    let bits = key.bits() as u32;
    let n = from_be(key.modulus(), bits)?;
    let p = params(&n)?;
    let mut value: BoxedUint = from_be(&message.encoded_for(&key)?, bits)?;
    let mut prefixes = Vec::with_capacity(partials.len());
    for d in partials {
        let d = zeroize::Zeroizing::new(from_be(d, bits)?);
        value = fit(&pow_mod(&value, &d, &p), bits);
        prefixes.push(Hex(to_be_len(&value, k)));
    }
    let signed = message.views_message(&prefixes);
    Ok((prefixes, signed))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::joint::JointSlot;
    use crate::keys::{MessageDigest, RsaAlgorithm, RsaPrivateKey};

    const K: usize = 5;

    /// A 2048-bit joint key made the token's way by five parties, and the
    /// partials as the parties sign with them (d0 first).
    fn fixture() -> &'static (RsaPrivateKey, Vec<Vec<u8>>) {
        static F: OnceLock<(RsaPrivateKey, Vec<Vec<u8>>)> = OnceLock::new();
        F.get_or_init(|| {
            let fresh = || {
                let mut d = vec![0u8; 256];
                crate::keys::random_bytes(&mut d).unwrap();
                d[0] |= 0x80;
                d
            };
            let (mut slot, _) = JointSlot::begin(RsaAlgorithm::Rsa2048, 65537, &fresh()).unwrap();
            for _ in 2..K {
                slot.contribute(&fresh()).unwrap();
            }
            let (key, done) = slot.finish().unwrap();
            let partials = done.test_partials().iter().map(|d| d.to_vec()).collect();
            (key, partials)
        })
    }

    fn names() -> Vec<PartyName> {
        (0..K)
            .map(|i| PartyName::new(&format!("p{i}")).unwrap())
            .collect()
    }

    fn check() -> ChainMessage {
        let (key, partials) = fixture();
        let mut m = ChainMessage::new_check(key.public_key(), names()).unwrap();
        let zp: Vec<_> = partials
            .iter()
            .map(|d| zeroize::Zeroizing::new(d.clone()))
            .collect();
        let (prefixes, signed) = views(&m, &zp).unwrap();
        let signature = key
            .sign_digest(
                SignatureScheme::Pkcs1Sha256,
                &MessageDigest::of(SignatureScheme::Pkcs1Sha256.hash(), &signed),
            )
            .unwrap();
        m.set_views(TokenViews {
            prefixes,
            signature: Hex(signature),
        })
        .unwrap();
        m
    }

    fn form() -> ChainMessage {
        let (key, _) = fixture();
        ChainMessage::new_reissue(
            key.public_key(),
            names(),
            ReissueForm {
                reason: "lost".into(),
                token: TokenSerial::from_bytes([7; 16]),
                slot: "joint".into(),
                requested_at: 1,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_check_completes_names_a_wrong_partial_and_refuses_a_reordered_chain() {
        let (key, partials) = fixture();
        let mut m = check();
        let wrong = vec![0x5a; 256];
        m.sign(&names()[0], &partials[0]).unwrap();
        let err = m.sign(&names()[1], &wrong).unwrap_err();
        assert!(matches!(err, JointError::WrongPartial { ref party, .. } if party == "p1"));
        assert_eq!(m.links().len(), 1, "nothing was added");
        for (name, partial) in names().iter().zip(partials).skip(1) {
            m.sign(name, partial).unwrap();
        }
        assert_eq!(m.status().unwrap(), ChainStatus::Complete);
        // The complete chain is an ordinary RSASSA-PKCS1-v1_5 signature.
        key.public_key()
            .verify(
                SignatureScheme::Pkcs1Sha256,
                &m.signed_message(),
                &m.links()[K - 1].value.0,
            )
            .unwrap();
        let mut reordered = m.clone();
        reordered.links.swap(1, 3);
        assert!(matches!(
            reordered.status().unwrap_err(),
            JointError::OutOfOrder(_)
        ));
        // Round trip through the file.
        assert_eq!(
            ChainMessage::parse(m.to_json().unwrap().as_bytes()).unwrap(),
            m
        );
    }

    #[test]
    fn a_form_refused_or_forged_permits_nothing_and_the_mailbox_takes_only_extensions() {
        let (_, partials) = fixture();
        let mut m = form();
        let base = m.clone();
        m.sign(&names()[0], &partials[0]).unwrap();
        assert!(base.is_extended_by(&m));
        assert!(!m.is_extended_by(&base));
        assert!(!m.is_extended_by(&m));
        let mut forged = m.clone();
        forged.form.as_mut().unwrap().reason = "lost twice".into();
        assert!(!base.is_extended_by(&forged));

        let mut refused = m.clone();
        refused.refuse(&names()[1], "no").unwrap();
        assert!(m.is_extended_by(&refused));
        assert!(
            !refused.is_extended_by(&refused),
            "a refused chain is final"
        );
        assert!(matches!(
            refused.status().unwrap(),
            ChainStatus::Refused(Refusal { ref party, .. }) if party.as_str() == "p1"
        ));
        assert!(matches!(
            refused.clone().sign(&names()[1], &partials[1]).unwrap_err(),
            JointError::Refused { .. }
        ));
        assert!(matches!(
            refused.clone().refuse(&names()[2], "me too").unwrap_err(),
            JointError::Refused { .. }
        ));

        for (name, partial) in names().iter().zip(partials).skip(1) {
            m.sign(name, partial).unwrap();
        }
        assert_eq!(m.status().unwrap(), ChainStatus::Complete);
        let mut forged = m.clone();
        forged.form.as_mut().unwrap().requested_at = 2;
        assert!(matches!(
            forged.status().unwrap_err(),
            JointError::DoesNotVerify(_)
        ));
        // A file is refused at the door when malformed.
        for bad in [r#"{}"#, r#"{"format":"symbolon-joint-chain/2"}"#] {
            assert!(ChainMessage::parse(bad.as_bytes()).is_err());
        }
        let mut twice = serde_json::to_value(&m).unwrap();
        twice["parties"][1] = twice["parties"][0].clone();
        assert!(ChainMessage::parse(twice.to_string().as_bytes()).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The chain engine against a model: a signature is taken exactly
        /// when it is that party's turn (and, for the last party, when the
        /// whole chain verifies); a wrong partial early on poisons the
        /// chain so it never completes; the file is complete exactly when
        /// every party signed.
        #[test]
        fn signing_follows_the_roster(attempts in prop::collection::vec((0usize..K, any::<bool>()), 1..14)) {
            let (_, partials) = fixture();
            let wrong = vec![0x3c; 256];
            let mut m = form();
            let mut poisoned = false;
            for (who, bad) in attempts {
                let next = m.links().len();
                let partial = if bad { &wrong } else { &partials[who] };
                let before = m.clone();
                let took = m.sign(&names()[who], partial).is_ok();
                let expect = next < K && who == next && (next < K - 1 || (!poisoned && !bad));
                prop_assert_eq!(took, expect);
                if took {
                    poisoned |= bad;
                } else {
                    prop_assert_eq!(&m, &before);
                }
            }
            prop_assert_eq!(m.status().unwrap() == ChainStatus::Complete, m.links().len() == K);
        }
    }
}
