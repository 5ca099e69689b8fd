//! Licences: the owner's answer to a verified order. A licence carries the
//! content key wrapped (RSA-OAEP-SHA-256) to the decryption key the owner
//! provisioned into the buyer's token (FIG. 23), names that token, slot and
//! content, and is signed by the owner's issuer identity, which that token
//! trusts. Another token cannot use it: it names another serial, and its key
//! does not unwrap the content key.

use std::time::SystemTime;

use super::key::ContentKey;
use super::order::{fixed, unix, OrderId, VerifiedOrder};
use super::{ContentError, ContentHeader, ContentId};
use crate::encoding::{Reader, Writer};
use crate::issuer::IssuerIdentity;
use crate::keys::{Fingerprint, IdentityPublicKey, PublicKey};
use crate::pem;
use crate::token::{SlotName, TokenSerial};

/// The PEM label of a licence file.
pub const LICENCE_LABEL: &str = "SYMBOLON LICENCE";
const BODY_DOMAIN: &str = "symbolon licence v1";

/// A licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    /// The content it opens.
    pub content_id: ContentId,
    /// The token it is for.
    pub token: TokenSerial,
    /// The decryption slot in that token.
    pub slot: SlotName,
    /// The order it answers.
    pub order: OrderId,
    /// When it was issued, seconds since the Unix epoch.
    pub issued_at: u64,
    /// The content key, wrapped to the slot's public key.
    pub wrapped_key: Vec<u8>,
    /// The owner's issuer identity.
    pub owner: IdentityPublicKey,
    /// The owner's signature (ECDSA P-256) over all of the above.
    pub signature: Vec<u8>,
}

impl Licence {
    /// Issues a licence for `order`: checks that `content_key` (unwrapped by
    /// the owner's catalogue key) opens `header`, wraps it to `decryption_key`
    /// (the key the owner provisioned into the ordered token and slot), and
    /// signs.
    pub fn issue(
        owner: &IssuerIdentity,
        order: &VerifiedOrder,
        header: &ContentHeader,
        content_key: &[u8],
        decryption_key: &PublicKey,
        now: SystemTime,
    ) -> Result<Self, ContentError> {
        if header.content_id() != order.terms.content_id {
            return Err(ContentError::OrderRefused(format!(
                "the order is for content {}, the sealed file holds {}",
                order.terms.content_id,
                header.content_id()
            )));
        }
        let key = ContentKey::from_unwrapped(content_key)?;
        key.verify_header(header)?;
        // RSA-OAEP or HPKE, by the kind of the token's key.
        let (_, wrapped_key) = super::wrap::wrap(decryption_key, &key, header.content_id())?;
        drop(key);
        let mut licence = Self {
            content_id: header.content_id(),
            token: order.terms.licence_token,
            slot: order.terms.licence_slot.clone(),
            order: order.id,
            issued_at: unix(now),
            wrapped_key,
            owner: owner.public_key().clone(),
            signature: Vec::new(),
        };
        licence.signature = owner
            .sign_statement(&licence.body())
            .map_err(|e| ContentError::Io(format!("cannot sign the licence: {e}")))?;
        Ok(licence)
    }

    fn body(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(BODY_DOMAIN);
        w.bytes(self.content_id.as_bytes());
        w.bytes(self.token.as_bytes());
        w.str(self.slot.as_str());
        w.bytes(self.order.as_bytes());
        w.u64(self.issued_at);
        w.bytes(&self.wrapped_key);
        w.bytes(self.owner.spki_der());
        w.into_bytes().to_vec()
    }

    /// Checks the licence before a token uses it: signed by an owner the
    /// token trusts (`trusted`: its trust list), for this token, slot and
    /// content. Returns the wrapped key to hand to the token.
    pub fn check(
        &self,
        trusted: &[Fingerprint],
        token: TokenSerial,
        slot: &SlotName,
        header: &ContentHeader,
    ) -> Result<&[u8], ContentError> {
        let refuse = |m: String| ContentError::LicenceRefused(m);
        self.owner
            .verify(&self.body(), &self.signature)
            .map_err(|_| refuse("the owner's signature does not verify".into()))?;
        if !trusted.contains(&self.owner.fingerprint()) {
            return Err(refuse(format!(
                "it is signed by {}, an owner this token does not trust",
                self.owner.fingerprint()
            )));
        }
        if self.token != token {
            return Err(refuse(format!(
                "it is for token {}, this is token {token}",
                self.token
            )));
        }
        if &self.slot != slot {
            return Err(refuse(format!("it is for slot {}, not {slot}", self.slot)));
        }
        if self.content_id != header.content_id() {
            return Err(refuse(format!(
                "it is for content {}, the sealed file holds {}",
                self.content_id,
                header.content_id()
            )));
        }
        Ok(&self.wrapped_key)
    }

    /// The file form (PEM).
    pub fn to_pem(&self) -> String {
        let mut w = Writer::new();
        w.bytes(&self.body());
        w.bytes(&self.signature);
        pem::encode(LICENCE_LABEL, &w.into_bytes())
    }

    /// Parses the file form.
    pub fn from_pem(text: &[u8]) -> Result<Self, ContentError> {
        let bad = |m: String| ContentError::InvalidInput(format!("not a licence: {m}"));
        let d = |e: crate::encoding::DecodeError| bad(e.to_string());
        let (_, der) = pem::decode(text, &[LICENCE_LABEL]).map_err(|e| bad(e.to_string()))?;
        let mut outer = Reader::new(&der);
        let body = outer.bytes("body").map_err(d)?;
        let signature = outer.bytes("signature").map_err(d)?.to_vec();
        outer.finish().map_err(d)?;
        let mut r = Reader::new(body);
        r.domain(BODY_DOMAIN).map_err(d)?;
        let content_id =
            ContentId::from_bytes(fixed(r.bytes("content id").map_err(d)?, "content id")?);
        let token = TokenSerial::from_bytes(fixed(r.bytes("token").map_err(d)?, "token serial")?);
        let slot = SlotName::new(r.str("slot").map_err(d)?).map_err(|e| bad(e.to_string()))?;
        let order = OrderId::from_bytes(fixed(r.bytes("order").map_err(d)?, "order id")?);
        let issued_at = r.u64("issued at").map_err(d)?;
        let wrapped_key = r.bytes("wrapped key").map_err(d)?.to_vec();
        let owner = IdentityPublicKey::from_spki_der(r.bytes("owner").map_err(d)?)
            .map_err(|e| bad(e.to_string()))?;
        r.finish().map_err(d)?;
        Ok(Self {
            content_id,
            token,
            slot,
            order,
            issued_at,
            wrapped_key,
            owner,
            signature,
        })
    }
}
