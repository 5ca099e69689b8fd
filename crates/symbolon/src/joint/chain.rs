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
//! A file is parsed into a [`ChainMessage`] whose invariants hold by
//! construction (see its documentation): the wire struct is private, the
//! key is parsed and policy-checked once, the roster is a [`Roster`], and
//! the purpose-specific fields are one enum, so checking a chain and signing
//! it re-validate nothing and index nothing.
//!
//! Residual risk, stated: in the reissue chain a middle party applies its
//! partial to a value it cannot check (D_0(Form) is checkable only with all
//! the partials — the patent's construction; the token that could vouch for
//! it is the one that was lost). Its link is useful only to a coalition of
//! every other party, the user's d0 included.

use std::collections::BTreeSet;
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

/// A chain's roster: 2 to [`MAX_PARTIES`] distinct parties, d0's holder
/// first, then the others in the order their partials entered the token.
/// [`Roster::new`] is the only way to make one, so every roster holds that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roster(Vec<PartyName>);

impl Roster {
    /// Checks the count and that no party appears twice.
    pub fn new(parties: Vec<PartyName>) -> Result<Self, JointError> {
        if !(2..=MAX_PARTIES).contains(&parties.len()) {
            return Err(invalid(format!(
                "a joint key has 2 to {MAX_PARTIES} parties; the roster names {}",
                parties.len()
            )));
        }
        let mut seen = BTreeSet::new();
        if let Some(p) = parties.iter().find(|p| !seen.insert(*p)) {
            return Err(invalid(format!("{p} appears twice in the roster")));
        }
        Ok(Self(parties))
    }

    /// The party at roster position `i` (0 = d0's holder), if there is one.
    pub fn get(&self, i: usize) -> Option<&PartyName> {
        self.0.get(i)
    }

    /// How many parties: 2 to [`MAX_PARTIES`].
    #[allow(clippy::len_without_is_empty, reason = "a roster is never empty")]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The parties, in roster order.
    pub fn as_slice(&self) -> &[PartyName] {
        &self.0
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
    /// Why (lost, destroyed …), for the parties to judge: 1 to 2000 bytes,
    /// not blank (checked when the form enters a [`ChainMessage`]).
    pub reason: String,
    /// The new token.
    pub token: TokenSerial,
    /// Its slot.
    pub slot: SlotName,
    /// When the user made the request (Unix seconds).
    pub requested_at: u64,
}

/// The token's views for a check: W_j = x with partials d0 … d_{j−1}
/// applied, j = 1 … k (W_k = D(x)), signed with the joint key. Inside a
/// [`ChainMessage`] there is exactly one per party, each as long as n.
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
    /// Why: 1 to 2000 bytes, not blank.
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

/// The joint public key: parsed and policy-checked once, with the text it
/// came as, since the chain signs that text (a file's key is signed exactly
/// as the file spells it). Two keys are the same when their texts are.
#[derive(Clone, Debug)]
struct JointKey {
    public: RsaPublicKey,
    text: String,
}

impl JointKey {
    fn parse(text: String) -> Result<Self, JointError> {
        let public = RsaPublicKey::from_pem_or_der(text.as_bytes())
            .map_err(|e| invalid(format!("the key: {e}")))?;
        Self::checked(public, text)
    }

    fn new(public: &RsaPublicKey) -> Result<Self, JointError> {
        Self::checked(public.clone(), public.to_pem())
    }

    fn checked(public: RsaPublicKey, text: String) -> Result<Self, JointError> {
        public
            .check_policy()
            .map_err(|e| invalid(format!("the key: {e}")))?;
        Ok(Self { public, text })
    }

    /// The length of n in bytes: every chain value's length.
    fn len(&self) -> usize {
        self.public.modulus().len()
    }

    /// Whether `value` can be a chain value: as long as n, and in 1 … n−1
    /// (a power of a message below n is; 0 and anything ≥ n are not).
    fn holds(&self, value: &[u8]) -> bool {
        // Big-endian values of n's length compare as byte strings.
        value.len() == self.len() && value < self.public.modulus() && value.iter().any(|&b| b != 0)
    }
}

impl PartialEq for JointKey {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for JointKey {}

/// What a chain signs besides its header, by purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Body {
    /// A check: the user's challenge r and, once the token has added them,
    /// its views (one per party, each as long as n).
    Check {
        challenge: [u8; 32],
        views: Option<TokenViews>,
    },
    /// A reissue request: the form (its reason 1 to 2000 bytes).
    Reissue { form: ReissueForm },
}

/// A chain message file, parsed: everything [`ChainMessage::status`] and
/// [`ChainMessage::sign`] rely on holds by construction — a 16-byte id, a
/// policy-checked key, a [`Roster`], a body whose shape matches its
/// purpose, token views one per party, no more links than parties and
/// each as long as n, a refusal only on an incomplete chain, reasons within
/// bounds. Only the arithmetic is left for [`ChainMessage::status`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ChainFile", into = "ChainFile")]
pub struct ChainMessage {
    id: ChainId,
    key: JointKey,
    roster: Roster,
    body: Body,
    links: Vec<Link>,
    refusal: Option<Refusal>,
}

/// The file as it is on disk (field names, order and omissions are the
/// format); [`ChainMessage`] is made from it only through `TryFrom`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
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

impl TryFrom<ChainFile> for ChainMessage {
    type Error = JointError;

    fn try_from(file: ChainFile) -> Result<Self, JointError> {
        if file.format != FORMAT {
            return Err(invalid(format!(
                "format {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        let roster = Roster::new(file.parties)?;
        let id = <[u8; 16]>::try_from(file.id.0)
            .map(ChainId)
            .map_err(|_| invalid("the id is 16 bytes"))?;
        let key = JointKey::parse(file.key)?;
        let body = match (file.purpose, file.challenge, file.form, file.views) {
            (Purpose::Check, Some(challenge), None, views) => Body::Check {
                challenge: <[u8; 32]>::try_from(challenge.0)
                    .map_err(|_| invalid("a check carries a 32-byte challenge and no form"))?,
                views,
            },
            (Purpose::Check, ..) => {
                return Err(invalid("a check carries a 32-byte challenge and no form"))
            }
            (Purpose::Reissue, None, Some(form), None) => Body::Reissue { form },
            (Purpose::Reissue, _, None, _) => {
                return Err(invalid("a reissue request carries a form"))
            }
            (Purpose::Reissue, ..) => {
                return Err(invalid("a reissue request carries no challenge or views"))
            }
        };
        Self::build(id, key, roster, body, file.links, file.refusal)
    }
}

impl From<ChainMessage> for ChainFile {
    fn from(m: ChainMessage) -> Self {
        let purpose = m.purpose();
        let (challenge, form, views) = match m.body {
            Body::Check { challenge, views } => (Some(Hex(challenge.to_vec())), None, views),
            Body::Reissue { form } => (None, Some(form), None),
        };
        Self {
            format: FORMAT.into(),
            purpose,
            id: Hex(m.id.0.to_vec()),
            key: m.key.text,
            parties: m.roster.0,
            challenge,
            form,
            views,
            links: m.links,
            refusal: m.refusal,
        }
    }
}

fn invalid(msg: impl Into<String>) -> JointError {
    JointError::Chain(msg.into())
}

fn random<const N: usize>() -> Result<[u8; N], JointError> {
    let mut b = [0u8; N];
    crate::keys::random_bytes(&mut b).map_err(|e| JointError::Internal(e.to_string()))?;
    Ok(b)
}

/// A reason (a form's, a refusal's) is 1 to [`MAX_REASON`] bytes, not
/// blank, and plain text: a party reads it on a terminal before it signs,
/// so a control character (an escape sequence that clears the screen or
/// forges a status line) is refused.
fn check_reason(reason: &str, what: &str) -> Result<(), JointError> {
    if reason.trim().is_empty() || reason.len() > MAX_REASON {
        return Err(invalid(format!("{what} is 1 to {MAX_REASON} bytes")));
    }
    if reason.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} holds a control character; it is plain text a party reads before signing"
        )));
    }
    Ok(())
}

/// The token's views are one value as long as n per party.
fn check_views(roster: &Roster, key: &JointKey, views: &TokenViews) -> Result<(), JointError> {
    if views.prefixes.len() != roster.len() || views.prefixes.iter().any(|p| p.0.len() != key.len())
    {
        return Err(invalid(
            "the token's views are one value as long as n per party",
        ));
    }
    if views.prefixes.iter().any(|p| !key.holds(&p.0)) {
        return Err(invalid("a view is 0 or not below n"));
    }
    Ok(())
}

/// Where a chain stands, borrowing the party that signs next.
enum State<'a> {
    Awaiting { index: usize, next: &'a PartyName },
    Complete,
    Refused(&'a Refusal),
}

impl ChainMessage {
    /// A check (FIG. 19) for the key `key` held by `parties` (the user, d0's
    /// holder, first; then the others in the order their partials entered
    /// the token), with a fresh challenge; the token adds its views.
    pub fn new_check(key: &RsaPublicKey, parties: Vec<PartyName>) -> Result<Self, JointError> {
        let roster = Roster::new(parties)?;
        let body = Body::Check {
            challenge: random()?,
            views: None,
        };
        Self::build(
            ChainId(random()?),
            JointKey::new(key)?,
            roster,
            body,
            Vec::new(),
            None,
        )
    }

    /// A reissue request (FIG. 20) for `key`, naming the new token and slot.
    pub fn new_reissue(
        key: &RsaPublicKey,
        parties: Vec<PartyName>,
        form: ReissueForm,
    ) -> Result<Self, JointError> {
        let roster = Roster::new(parties)?;
        Self::build(
            ChainId(random()?),
            JointKey::new(key)?,
            roster,
            Body::Reissue { form },
            Vec::new(),
            None,
        )
    }

    /// The one constructor: checks what the parts do not hold by their
    /// types (the views', links' and reasons' bounds).
    fn build(
        id: ChainId,
        key: JointKey,
        roster: Roster,
        body: Body,
        links: Vec<Link>,
        refusal: Option<Refusal>,
    ) -> Result<Self, JointError> {
        match &body {
            Body::Check { views: None, .. } => {}
            Body::Check {
                views: Some(views), ..
            } => check_views(&roster, &key, views)?,
            Body::Reissue { form } => check_reason(&form.reason, "the form's reason")?,
        }
        if links.len() > roster.len() {
            return Err(invalid("more links than parties"));
        }
        if links.iter().any(|l| l.value.0.len() != key.len()) {
            return Err(invalid("every link is a value as long as n"));
        }
        if let Some(l) = links.iter().find(|l| !key.holds(&l.value.0)) {
            return Err(invalid(format!(
                "{}'s link is 0 or not below n: no partial gives that",
                l.party
            )));
        }
        if let Some(r) = &refusal {
            check_reason(&r.reason, "a refusal's reason")?;
            if links.len() == roster.len() {
                return Err(invalid("a complete chain carries no refusal"));
            }
        }
        Ok(Self {
            id,
            key,
            roster,
            body,
            links,
            refusal,
        })
    }

    /// Parses and validates a file (structure only; [`Self::status`] checks
    /// the arithmetic).
    pub fn parse(bytes: &[u8]) -> Result<Self, JointError> {
        let file: ChainFile = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("not a joint chain file: {e}")))?;
        Self::try_from(file)
    }

    /// The file's text.
    pub fn to_json(&self) -> Result<String, JointError> {
        serde_json::to_string_pretty(self)
            .map(|text| text + "\n")
            .map_err(|e| JointError::Internal(format!("chain file: {e}")))
    }

    /// What the chain is for.
    pub fn purpose(&self) -> Purpose {
        match self.body {
            Body::Check { .. } => Purpose::Check,
            Body::Reissue { .. } => Purpose::Reissue,
        }
    }

    /// The joint public key (policy-checked when the file was made or
    /// parsed).
    pub fn key(&self) -> &RsaPublicKey {
        &self.key.public
    }

    /// The roster, d0's holder first.
    pub fn parties(&self) -> &[PartyName] {
        self.roster.as_slice()
    }

    /// The roster, d0's holder first.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The id.
    pub fn id(&self) -> ChainId {
        self.id
    }

    /// The reissue form, for a reissue request.
    pub fn form(&self) -> Option<&ReissueForm> {
        match &self.body {
            Body::Reissue { form } => Some(form),
            Body::Check { .. } => None,
        }
    }

    /// The token's views, for a check that has them.
    fn token_views(&self) -> Option<&TokenViews> {
        match &self.body {
            Body::Check { views, .. } => views.as_ref(),
            Body::Reissue { .. } => None,
        }
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
        w.str(self.purpose().as_str());
        w.bytes(&self.id.0);
        w.str(&self.key.text);
        // At most MAX_PARTIES.
        w.u32(self.roster.len() as u32);
        for p in self.roster.as_slice() {
            w.str(p.as_str());
        }
        match &self.body {
            Body::Check { challenge, .. } => w.bytes(challenge),
            Body::Reissue { form } => {
                w.str(&form.reason);
                w.bytes(form.token.as_bytes());
                w.str(form.slot.as_str());
                w.u64(form.requested_at);
            }
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
        emsa_pkcs1_sha256(&self.signed_message(), self.key.len())
    }

    /// Sets the token's views (the token's own step; see `Token::joint_check`).
    pub fn set_views(&mut self, views: TokenViews) -> Result<(), JointError> {
        let Body::Check { views: slot, .. } = &mut self.body else {
            return Err(invalid("views belong to a new check"));
        };
        if !self.links.is_empty() {
            return Err(invalid("views belong to a new check"));
        }
        check_views(&self.roster, &self.key, &views)?;
        *slot = Some(views);
        Ok(())
    }

    /// Checks everything that can be checked and says where the chain
    /// stands: the roster order of the links, the token's views (signed with
    /// the joint key, E(D(r)) = r, each link equal to its view — a party
    /// whose link differs is named), and for a complete chain that the last
    /// link verifies with e.
    pub fn status(&self) -> Result<ChainStatus, JointError> {
        Ok(match self.state()? {
            State::Awaiting { index, .. } => ChainStatus::Awaiting(index),
            State::Complete => ChainStatus::Complete,
            State::Refused(r) => ChainStatus::Refused(r.clone()),
        })
    }

    fn state(&self) -> Result<State<'_>, JointError> {
        let key = &self.key.public;
        let bits = key.bits() as u32;
        let n = from_be(key.modulus(), bits)?;
        let e = from_be(key.exponent(), bits)?;
        let p = params(&n)?;
        let x = from_be(&self.encoded()?, bits)?;
        // Whether a chain value v, if any, verifies with e: E(v) = x.
        let verifies = |v: Option<&Hex>| -> Result<bool, JointError> {
            let Some(v) = v else { return Ok(false) };
            Ok(fit(&pow_public(&from_be(&v.0, bits)?, &e, &p), bits) == x)
        };
        // Links never outnumber the roster, so the zip sees every link.
        for (i, (link, holder)) in self.links.iter().zip(self.roster.as_slice()).enumerate() {
            if !self.roster.as_slice().contains(&link.party) {
                return Err(JointError::Chain(format!(
                    "link {} is by {}, who is not in the roster ({})",
                    i + 1,
                    link.party,
                    self.roster_text()
                )));
            }
            if link.party != *holder {
                return Err(JointError::OutOfOrder(format!(
                    "link {} is by {} but {holder} signs at that place in the roster ({}): the chain is out of order",
                    i + 1,
                    link.party,
                    self.roster_text()
                )));
            }
        }
        if let Body::Check { views, .. } = &self.body {
            let Some(views) = views else {
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
            // W_k = D(r); there is one view per party, so it exists.
            if !verifies(views.prefixes.last())? {
                return Err(JointError::DoesNotVerify(
                    "the token's signature D(r) does not verify: E(D(r)) ≠ r (FIG. 19 steps 10–11)"
                        .into(),
                ));
            }
            for (i, (link, view)) in self.links.iter().zip(&views.prefixes).enumerate() {
                if link.value != *view {
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
        let Some(next) = self.roster.get(self.links.len()) else {
            // Every party signed (and a complete chain carries no refusal).
            if !verifies(self.links.last().map(|l| &l.value))? {
                return Err(JointError::DoesNotVerify(match self.body {
                    Body::Reissue { .. } => "E(D_{k−1}(…D_0(Form))) ≠ Form: a partial in the chain is wrong, or the form was altered after it was signed".into(),
                    Body::Check { .. } => "E(D_{k−1}(…D_0(r))) ≠ r: the partials do not make the key".into(),
                }));
            }
            return Ok(State::Complete);
        };
        match &self.refusal {
            Some(r) if !self.roster.as_slice().contains(&r.party) => {
                Err(JointError::Chain(format!(
                    "the refusal is by {}, who is not in the roster ({})",
                    r.party,
                    self.roster_text()
                )))
            }
            Some(r) if r.party != *next => Err(JointError::OutOfOrder(format!(
                "the refusal is by {}, but {next} was to sign next",
                r.party
            ))),
            Some(r) => Ok(State::Refused(r)),
            None => Ok(State::Awaiting {
                index: self.links.len(),
                next,
            }),
        }
    }

    /// The roster as text: `alice → issuer → provider`.
    pub fn roster_text(&self) -> String {
        self.roster
            .as_slice()
            .iter()
            .map(PartyName::as_str)
            .collect::<Vec<_>>()
            .join(" → ")
    }

    /// `party`'s roster position if it signs next, else why not.
    fn turn(&self, party: &PartyName) -> Result<usize, JointError> {
        if !self.roster.as_slice().contains(party) {
            return Err(JointError::InvalidInput(format!(
                "{party} is not in the roster ({}): only its parties sign or refuse",
                self.roster_text()
            )));
        }
        match self.state()? {
            State::Awaiting { index, next } if next == party => Ok(index),
            State::Awaiting { next, .. } => Err(JointError::NotYourTurn(format!(
                "{next} signs next, not {party} (roster: {})",
                self.roster_text()
            ))),
            State::Complete => Err(JointError::NotYourTurn(
                "the chain is complete already".into(),
            )),
            State::Refused(r) => Err(JointError::Refused {
                party: r.party.to_string(),
                reason: r.reason.clone(),
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
        let key = &self.key.public;
        let bits = key.bits() as u32;
        let n = from_be(key.modulus(), bits)?;
        let p = params(&n)?;
        // It is party i's turn, so there are i links: the last is the
        // previous one, and none means party 0 starts from x.
        let previous = match self.links.last() {
            None => self.encoded()?,
            Some(link) => link.value.0.clone(),
        };
        let d = zeroize::Zeroizing::new(from_be(partial, bits.max(partial.len() as u32 * 8))?);
        let value = to_be_len(
            &pow_mod(&from_be(&previous, bits)?, &d, &p)?,
            self.key.len(),
        );
        if let Some(views) = self.token_views() {
            if views.prefixes.get(i).map(|v| v.0.as_slice()) != Some(value.as_slice()) {
                return Err(JointError::WrongPartial {
                    party: party.to_string(),
                    detail: format!(
                        "{party}'s partial does not give the token's view: it is not the partial the token holds for {party} (nothing was added)"
                    ),
                });
            }
        }
        let mut next = self.clone();
        // Party i's turn means i < the roster's length, and `to_be_len`
        // made the value as long as n: the invariants hold.
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
        check_reason(reason, "a refusal's reason")?;
        // Its turn: the chain is not complete, so it may carry a refusal.
        let refusal = Refusal {
            party: party.clone(),
            reason: reason.to_string(),
        };
        self.refusal = Some(refusal.clone());
        Ok(ChainStatus::Refused(refusal))
    }

    /// Whether `later` is this file with more links (or a refusal) added and
    /// nothing else changed: what the mailbox accepts as an update.
    /// A refused chain is final: nothing extends it.
    pub fn is_extended_by(&self, later: &Self) -> bool {
        // Destructured so that a new field cannot be left out.
        let Self {
            id,
            key,
            roster,
            body,
            links,
            refusal,
        } = self;
        refusal.is_none()
            && later.id == *id
            && later.key == *key
            && later.roster == *roster
            && later.body == *body
            && later.links.starts_with(links)
            && (later.links.len() > links.len() || later.refusal.is_some())
    }
}

/// The token's side of a check: the views W_1 … W_k of `message`'s
/// encoding under `partials` (d0 first), and the bytes to sign them with.
pub(crate) fn views(
    message: &ChainMessage,
    partials: &[zeroize::Zeroizing<Vec<u8>>],
) -> Result<(Vec<Hex>, Vec<u8>), JointError> {
    if partials.len() != message.roster.len() {
        return Err(invalid(format!(
            "the roster names {} parties, but {} partials made this key",
            message.roster.len(),
            partials.len()
        )));
    }
    let key = message.key();
    let k = key.modulus().len();
    let bits = key.bits() as u32;
    let n = from_be(key.modulus(), bits)?;
    let p = params(&n)?;
    let mut value: BoxedUint = from_be(&message.encoded()?, bits)?;
    let mut prefixes = Vec::with_capacity(partials.len());
    for d in partials {
        let d = zeroize::Zeroizing::new(from_be(d, bits)?);
        value = fit(&pow_mod(&value, &d, &p)?, bits);
        prefixes.push(Hex(to_be_len(&value, k)));
    }
    let signed = message.views_message(&prefixes);
    Ok((prefixes, signed))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use serde_json::{json, Value};

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

    fn name(i: usize) -> PartyName {
        PartyName::new(&format!("p{i}")).unwrap()
    }

    fn names() -> Vec<PartyName> {
        (0..K).map(name).collect()
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
                slot: SlotName::new("joint").unwrap(),
                requested_at: 1,
            },
        )
        .unwrap()
    }

    fn form_mut(m: &mut ChainMessage) -> &mut ReissueForm {
        match &mut m.body {
            Body::Reissue { form } => form,
            Body::Check { .. } => panic!("not a reissue request"),
        }
    }

    /// A check with its views and two links, and a reissue request with
    /// one link and a refusal, as files.
    fn files() -> &'static (String, String) {
        static F: OnceLock<(String, String)> = OnceLock::new();
        F.get_or_init(|| {
            let (_, partials) = fixture();
            let mut c = check();
            c.sign(&name(0), &partials[0]).unwrap();
            c.sign(&name(1), &partials[1]).unwrap();
            let mut r = form();
            r.sign(&name(0), &partials[0]).unwrap();
            r.refuse(&name(1), "not without a police report").unwrap();
            (c.to_json().unwrap(), r.to_json().unwrap())
        })
    }

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// `file` is refused at the door with a [`JointError::Chain`] that
    /// says `why`.
    fn refused(file: &Value, why: &str) {
        match ChainMessage::parse(file.to_string().as_bytes()) {
            Err(JointError::Chain(msg)) => assert!(msg.contains(why), "{msg:?} lacks {why:?}"),
            other => panic!("{file}: expected a refusal ({why}), got {other:?}"),
        }
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
        // Nor may a stranger sign.
        assert!(matches!(
            m.clone().sign(&PartyName::new("mallory").unwrap(), &partials[0]),
            Err(JointError::InvalidInput(ref msg)) if msg.contains("not in the roster")
        ));
        // A link by someone the roster does not name is no order at all.
        let mut stranger = m.clone();
        stranger.links[2].party = PartyName::new("mallory").unwrap();
        assert!(matches!(
            stranger.status().unwrap_err(),
            JointError::Chain(ref msg) if msg.contains("mallory, who is not in the roster")
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
        form_mut(&mut forged).reason = "lost twice".into();
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
        assert!(matches!(
            m.clone().refuse(&names()[1], " ").unwrap_err(),
            JointError::Chain(_)
        ));

        for (name, partial) in names().iter().zip(partials).skip(1) {
            m.sign(name, partial).unwrap();
        }
        assert_eq!(m.status().unwrap(), ChainStatus::Complete);
        let mut forged = m.clone();
        form_mut(&mut forged).requested_at = 2;
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

    #[test]
    fn a_file_whose_shape_is_wrong_is_refused_at_parse() {
        let (check, reissue) = files();
        let (check, reissue) = (value(check), value(reissue));
        let edit = |base: &Value, f: &dyn Fn(&mut Value)| {
            let mut v = base.clone();
            f(&mut v);
            v
        };

        // The token's views: one per party.
        refused(
            &edit(&check, &|v| {
                v["views"]["prefixes"].as_array_mut().unwrap().pop();
            }),
            "one value as long as n per party",
        );
        refused(
            &edit(&check, &|v| {
                let first = v["views"]["prefixes"][0].clone();
                v["views"]["prefixes"].as_array_mut().unwrap().push(first);
            }),
            "one value as long as n per party",
        );
        // The roster: 2 to 17 distinct parties.
        refused(
            &edit(&reissue, &|v| v["parties"] = json!(["p0"])),
            "2 to 17 parties",
        );
        refused(
            &edit(&reissue, &|v| {
                v["parties"] = (0..18).map(|i| format!("p{i}")).collect();
            }),
            "2 to 17 parties",
        );
        refused(
            &edit(&reissue, &|v| v["parties"][2] = json!("p0")),
            "appears twice",
        );
        // The body matches the purpose.
        refused(
            &edit(&check, &|v| {
                v.as_object_mut().unwrap().remove("challenge");
            }),
            "32-byte challenge",
        );
        refused(
            &edit(&check, &|v| v["challenge"] = json!("00ff")),
            "32-byte challenge",
        );
        refused(
            &edit(&check, &|v| v["form"] = reissue["form"].clone()),
            "32-byte challenge",
        );
        refused(
            &edit(&reissue, &|v| v["challenge"] = check["challenge"].clone()),
            "no challenge or views",
        );
        refused(
            &edit(&reissue, &|v| v["views"] = check["views"].clone()),
            "no challenge or views",
        );
        refused(
            &edit(&reissue, &|v| {
                v.as_object_mut().unwrap().remove("form");
            }),
            "carries a form",
        );
        refused(
            &edit(&reissue, &|v| v["form"]["slot"] = json!(".hidden")),
            "not a valid slot name",
        );
        refused(
            &edit(&reissue, &|v| v["form"]["reason"] = json!("  ")),
            "the form's reason",
        );
        // A reason is read on a terminal before signing: no escapes.
        refused(
            &edit(&reissue, &|v| {
                v["form"]["reason"] = json!("ok\u{1b}[2J\u{1b}[31mFAKE: signed by everyone")
            }),
            "control character",
        );
        refused(
            &edit(&reissue, &|v| v["refusal"]["reason"] = json!("no\u{7}")),
            "control character",
        );
        // Links: as long as n, no more than parties.
        refused(
            &edit(&check, &|v| {
                let short = v["links"][1]["value"].as_str().unwrap()[2..].to_string();
                v["links"][1]["value"] = json!(short);
            }),
            "as long as n",
        );
        refused(
            &edit(&check, &|v| {
                let link = v["links"][0].clone();
                let links = v["links"].as_array_mut().unwrap();
                links.resize(K + 1, link);
            }),
            "more links than parties",
        );
        // A link of n's length that no partial gives: all ones (≥ n), zero.
        for value in ["ff", "00"] {
            refused(
                &edit(&check, &|v| {
                    let len = v["links"][0]["value"].as_str().unwrap().len() / 2;
                    v["links"][0]["value"] = json!(value.repeat(len));
                }),
                "0 or not below n",
            );
        }
        // The rest of the header.
        refused(&edit(&check, &|v| v["id"] = json!("00ff")), "16 bytes");
        refused(&edit(&check, &|v| v["key"] = json!("not a key")), "the key");
        refused(
            &edit(&reissue, &|v| v["refusal"]["reason"] = json!("")),
            "a refusal's reason",
        );
        refused(
            &edit(&reissue, &|v| v["format"] = json!("symbolon-joint-chain/2")),
            "format",
        );
        refused(&edit(&reissue, &|v| v["extra"] = json!(1)), "unknown field");

        // A refusal on a complete chain.
        let (_, partials) = fixture();
        let mut complete = form();
        for (name, partial) in names().iter().zip(partials) {
            complete.sign(name, partial).unwrap();
        }
        let mut v = serde_json::to_value(&complete).unwrap();
        v["refusal"] = json!({ "party": "p4", "reason": "too late" });
        refused(&v, "a complete chain carries no refusal");
    }

    #[test]
    fn views_are_set_once_on_a_new_check_and_only_one_per_party() {
        let mut m = check();
        let views = m.token_views().unwrap().clone();
        let mut short = views.clone();
        short.prefixes.pop();
        assert!(matches!(
            check().set_views(short).unwrap_err(),
            JointError::Chain(_)
        ));
        assert!(matches!(
            form().set_views(views.clone()).unwrap_err(),
            JointError::Chain(_)
        ));
        m.sign(&name(0), &fixture().1[0]).unwrap();
        assert!(matches!(
            m.set_views(views).unwrap_err(),
            JointError::Chain(_)
        ));
    }

    #[test]
    fn a_parsed_file_is_written_back_byte_for_byte() {
        let (check, reissue) = files();
        for (text, fields) in [
            (
                check,
                &[
                    "format",
                    "purpose",
                    "id",
                    "key",
                    "parties",
                    "challenge",
                    "views",
                    "links",
                ][..],
            ),
            (
                reissue,
                &[
                    "format", "purpose", "id", "key", "parties", "form", "links", "refusal",
                ][..],
            ),
        ] {
            let m = ChainMessage::parse(text.as_bytes()).unwrap();
            assert_eq!(&m.to_json().unwrap(), text);
            // The format's fields, in its order, and nothing else.
            let top: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("  \""))
                .filter_map(|l| l.split('"').next())
                .collect();
            assert_eq!(top, fields);
            assert!(text.starts_with("{\n  \"format\": \"symbolon-joint-chain/1\",\n"));
            assert!(text.ends_with("}\n"));
        }
        // The key is signed as the file spells it.
        let m = ChainMessage::parse(check.as_bytes()).unwrap();
        let mut v = value(check);
        v["key"] = json!(format!("{}\n", v["key"].as_str().unwrap()));
        let respelled = ChainMessage::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(respelled.key(), m.key());
        assert_ne!(respelled.signed_message(), m.signed_message());
        assert!(!m.is_extended_by(&respelled));
    }

    /// A structural edit of a chain file (see `mutate`).
    fn edit() -> impl Strategy<Value = (u8, usize, usize)> {
        (0u8..14, 0usize..20, 0usize..20)
    }

    /// Applies `edits` to `text`'s JSON, then writes it back out.
    fn mutate(text: &str, edits: &[(u8, usize, usize)]) -> Vec<u8> {
        let mut v = value(text);
        let mut flips = Vec::new();
        for &(op, a, b) in edits {
            let links = v["links"].as_array().map_or(0, Vec::len).max(1);
            let prefixes: Vec<Value> = v
                .pointer("/views/prefixes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let map = v.as_object_mut().unwrap();
            match op {
                0 => {
                    if let Some(l) = map.get_mut("links").and_then(Value::as_array_mut) {
                        l.pop();
                    }
                }
                1 => {
                    if let Some(l) = map.get_mut("links").and_then(Value::as_array_mut) {
                        if let Some(x) = l.get(a % links).cloned() {
                            l.push(x);
                        }
                    }
                }
                2 => {
                    if let Some(p) = v
                        .pointer_mut("/views/prefixes")
                        .and_then(Value::as_array_mut)
                    {
                        p.pop();
                    }
                }
                3 => {
                    if let Some(Value::String(s)) =
                        v.pointer_mut(&format!("/links/{}/value", a % links))
                    {
                        s.truncate(s.len().saturating_sub(2));
                    }
                }
                4 => {
                    if let Some(p) = map.get_mut("parties").and_then(Value::as_array_mut) {
                        let n = p.len().max(1);
                        p.swap(a % n, b % n);
                    }
                }
                5 => {
                    map.insert(
                        "refusal".into(),
                        json!({ "party": format!("p{}", a % K), "reason": "no" }),
                    );
                }
                6 => {
                    map.remove("views");
                }
                7 => {
                    if let (Some(x), Some(p)) = (
                        v.pointer_mut(&format!("/links/{}/value", a % links)),
                        prefixes.get(b % K),
                    ) {
                        *x = p.clone();
                    }
                }
                8 => {
                    let all: Vec<Value> = prefixes
                        .iter()
                        .enumerate()
                        .map(|(i, p)| json!({ "party": format!("p{i}"), "value": p }))
                        .collect();
                    map.insert("links".into(), Value::Array(all));
                }
                9 => {
                    if let Some(x) = v.pointer_mut(&format!("/links/{}/party", a % links)) {
                        *x = json!(format!("p{}", b % K));
                    }
                }
                10 => flips.push((a, b)),
                11 => {
                    map.insert("purpose".into(), json!("reissue"));
                }
                12 => {
                    map.remove("challenge");
                }
                _ => {
                    map.insert("parties".into(), (0..a).map(|i| format!("p{i}")).collect());
                }
            }
        }
        let mut bytes = serde_json::to_vec_pretty(&v).unwrap();
        let len = bytes.len();
        for (at, to) in flips {
            bytes[at * 997 % len] = b"0123456789abcdef\"{}[],: "[to % 24];
        }
        bytes
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever a file says, once it parses: it writes back as it
        /// parsed, and checking, signing and refusing it answer without
        /// panicking.
        #[test]
        fn a_parsed_file_never_panics(
            reissue in any::<bool>(),
            edits in prop::collection::vec(edit(), 0..4),
        ) {
            let (_, partials) = fixture();
            let (check, form) = files();
            let bytes = mutate(if reissue { form } else { check }, &edits);
            let Ok(m) = ChainMessage::parse(&bytes) else {
                return Ok(());
            };
            prop_assert_eq!(&ChainMessage::parse(m.to_json().unwrap().as_bytes()).unwrap(), &m);
            let _ = m.status();
            for i in 0..=K {
                let party = name(i);
                let mut signed = m.clone();
                if let Ok(status) = signed.sign(&party, &partials[i % K]) {
                    prop_assert_eq!(signed.status(), Ok(status));
                    prop_assert!(m.is_extended_by(&signed));
                }
                let _ = m.clone().sign(&party, &[0x3c; 256]);
                let mut refused = m.clone();
                if refused.refuse(&party, "no").is_ok() {
                    prop_assert!(matches!(refused.status(), Ok(ChainStatus::Refused(_))));
                    prop_assert!(m.is_extended_by(&refused));
                }
            }
        }
    }
}
