//! Purchase orders (FIG. 22): the user states, with the signing key the CA
//! certified for purchases, that it wants a piece of content at a price and
//! which token's decryption key the licence is for. Because only the user's
//! token can make that signature, the user cannot later deny the order
//! (nonRepudiation), and the owner can show it to a third party.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{ContentError, ContentId};
use crate::encoding::{Reader, Writer};
use crate::keys::{Fingerprint, MessageDigest, SignatureScheme};
use crate::pem;
use crate::token::{SlotName, TokenSerial};
use crate::x509::{certificate_key, has_extended_key_usage, verify_path, PURCHASE_SIGNING_EKU};

/// The PEM label of an order file.
pub const ORDER_LABEL: &str = "SYMBOLON PURCHASE ORDER";
const BODY_DOMAIN: &str = "symbolon purchase order v1";
const FILE_DOMAIN: &str = "symbolon purchase order file v1";
/// How far an order's time may run ahead of the owner's clock.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// A price: a decimal amount and an ISO 4217 currency code, as `12.50 EUR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    amount: String,
    currency: String,
}

impl std::str::FromStr for Price {
    type Err = ContentError;
    fn from_str(s: &str) -> Result<Self, ContentError> {
        let bad = || {
            ContentError::InvalidInput(format!(
                "price {s:?} is not an amount and a currency code, as \"12.50 EUR\""
            ))
        };
        let (amount, currency) = s.trim().split_once(' ').ok_or_else(bad)?;
        let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
        let digits = |t: &str, max: usize| t.len() <= max && t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole, 15)
            || !digits(frac, 4)
            || (amount.contains('.') && frac.is_empty())
            || (whole.len() > 1 && whole.starts_with('0'))
            || currency.len() != 3
            || !currency.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(bad());
        }
        Ok(Self {
            amount: amount.to_string(),
            currency: currency.to_string(),
        })
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// An order's identity: SHA-256 of the signed body. A replay is the same
/// body, so the same id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderId([u8; 32]);

impl OrderId {
    /// From raw bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderId({self})")
    }
}

/// What the user orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerms {
    /// The content.
    pub content_id: ContentId,
    /// The price the user agrees to pay.
    pub price: Price,
    /// Random, so two orders for the same content differ.
    pub nonce: [u8; 16],
    /// When the order was made, seconds since the Unix epoch.
    pub time: u64,
    /// The token whose decryption key the licence is for.
    pub licence_token: TokenSerial,
    /// Its decryption slot.
    pub licence_slot: SlotName,
}

impl OrderTerms {
    /// New terms with a fresh nonce, dated `now`.
    pub fn new(
        content_id: ContentId,
        price: Price,
        licence_token: TokenSerial,
        licence_slot: SlotName,
        now: SystemTime,
    ) -> Result<Self, ContentError> {
        let mut nonce = [0u8; 16];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| ContentError::Internal("random"))?;
        Ok(Self {
            content_id,
            price,
            nonce,
            time: unix(now),
            licence_token,
            licence_slot,
        })
    }

    /// The signed bytes: the terms, the scheme, and the signer's certificate
    /// (by hash), so a signature cannot be moved to another certificate.
    fn body(&self, scheme: SignatureScheme, certificate: &[u8]) -> Vec<u8> {
        let mut w = Writer::with_domain(BODY_DOMAIN);
        self.write(&mut w);
        w.str(scheme.name());
        w.bytes(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, certificate).as_ref());
        w.into_bytes().to_vec()
    }

    /// The terms' fields, in the order both the signed body and the file use.
    fn write(&self, w: &mut Writer) {
        w.bytes(self.content_id.as_bytes());
        w.str(&self.price.amount);
        w.str(&self.price.currency);
        w.bytes(&self.nonce);
        w.u64(self.time);
        w.bytes(self.licence_token.as_bytes());
        w.str(self.licence_slot.as_str());
    }

    /// The digest the user's token signs.
    pub fn digest(&self, scheme: SignatureScheme, certificate: &[u8]) -> MessageDigest {
        MessageDigest::of(scheme.hash(), &self.body(scheme, certificate))
    }
}

/// A signed order with the signer's certificate and chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder {
    /// The terms.
    pub terms: OrderTerms,
    /// The signature scheme.
    pub scheme: SignatureScheme,
    /// The signer's certificate (DER), role purchase-signing.
    pub certificate: Vec<u8>,
    /// Intermediate certificates up to the CA root (DER, nearest first).
    pub chain: Vec<Vec<u8>>,
    /// The token's signature over the body.
    pub signature: Vec<u8>,
}

/// An order the owner has checked.
#[derive(Debug, Clone)]
pub struct VerifiedOrder {
    /// Its identity.
    pub id: OrderId,
    /// The terms.
    pub terms: OrderTerms,
    /// The signer's subject, RFC 4514.
    pub signer: String,
    /// The signer's key.
    pub signer_key: Fingerprint,
}

impl PurchaseOrder {
    /// Its identity.
    pub fn id(&self) -> OrderId {
        let body = self.terms.body(self.scheme, &self.certificate);
        let mut id = [0u8; 32];
        id.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body).as_ref());
        OrderId(id)
    }

    /// Checks the order at `now`: the signer's certificate chains to the
    /// pinned CA `root`, is certified for purchase signing, and signed these
    /// terms; the order is no older than `max_age` and not from the future.
    /// Whether it was seen before is the caller's to check, durably, by
    /// [`VerifiedOrder::id`].
    pub fn verify(
        &self,
        root: &[u8],
        now: SystemTime,
        max_age: Duration,
    ) -> Result<VerifiedOrder, ContentError> {
        let refuse = |m: String| ContentError::OrderRefused(m);
        let cert = verify_path(&self.certificate, &self.chain, root, now)
            .map_err(|e| refuse(format!("the signer's certificate: {e}")))?;
        if !has_extended_key_usage(&cert, PURCHASE_SIGNING_EKU) {
            return Err(refuse(
                "the signer's certificate is not certified for purchase signing (role purchase-signing)".into(),
            ));
        }
        let key = certificate_key(&cert).map_err(|e| refuse(e.to_string()))?;
        key.verify_digest(
            self.scheme,
            &self.terms.digest(self.scheme, &self.certificate),
            &self.signature,
        )
        .map_err(|_| {
            refuse("the signature does not verify against the signer's certificate".into())
        })?;
        let time = UNIX_EPOCH + Duration::from_secs(self.terms.time);
        if time > now + MAX_CLOCK_SKEW {
            return Err(refuse("the order is dated in the future".into()));
        }
        // Within the allowed skew, a time just ahead of ours is age zero.
        if now.duration_since(time).unwrap_or(Duration::ZERO) > max_age {
            return Err(refuse(format!(
                "the order is older than {} seconds; make a new one",
                max_age.as_secs()
            )));
        }
        Ok(VerifiedOrder {
            id: self.id(),
            terms: self.terms.clone(),
            signer: cert.tbs_certificate().subject().to_string(),
            signer_key: key.fingerprint(),
        })
    }

    /// The file form (PEM).
    pub fn to_pem(&self) -> String {
        let mut w = Writer::with_domain(FILE_DOMAIN);
        self.terms.write(&mut w);
        w.str(self.scheme.name());
        w.bytes(&self.certificate);
        w.u32(self.chain.len() as u32);
        for c in &self.chain {
            w.bytes(c);
        }
        w.bytes(&self.signature);
        pem::encode(ORDER_LABEL, &w.into_bytes())
    }

    /// Parses the file form.
    pub fn from_pem(text: &[u8]) -> Result<Self, ContentError> {
        let bad = |m: String| ContentError::InvalidInput(format!("not a purchase order: {m}"));
        let (_, der) = pem::decode(text, &[ORDER_LABEL]).map_err(|e| bad(e.to_string()))?;
        let mut r = Reader::new(&der);
        let parse = |r: &mut Reader<'_>| -> Result<Self, ContentError> {
            let d = |e: crate::encoding::DecodeError| bad(e.to_string());
            r.domain(FILE_DOMAIN).map_err(d)?;
            let content_id =
                ContentId::from_bytes(fixed(r.bytes("content id").map_err(d)?, "content id")?);
            let price: Price = format!(
                "{} {}",
                r.str("amount").map_err(d)?,
                r.str("currency").map_err(d)?
            )
            .parse()?;
            let nonce = fixed(r.bytes("nonce").map_err(d)?, "nonce")?;
            let time = r.u64("time").map_err(d)?;
            let licence_token =
                TokenSerial::from_bytes(fixed(r.bytes("token").map_err(d)?, "token serial")?);
            let licence_slot =
                SlotName::new(r.str("slot").map_err(d)?).map_err(|e| bad(e.to_string()))?;
            let scheme: SignatureScheme = r
                .str("scheme")
                .map_err(d)?
                .parse()
                .map_err(|e: crate::keys::KeyError| bad(e.to_string()))?;
            let certificate = r.bytes("certificate").map_err(d)?.to_vec();
            let n = r.u32("chain length").map_err(d)?;
            if n > 8 {
                return Err(bad(format!("a chain of {n} certificates is too long")));
            }
            let chain = (0..n)
                .map(|_| r.bytes("chain certificate").map(<[u8]>::to_vec).map_err(d))
                .collect::<Result<_, _>>()?;
            let signature = r.bytes("signature").map_err(d)?.to_vec();
            Ok(Self {
                terms: OrderTerms {
                    content_id,
                    price,
                    nonce,
                    time,
                    licence_token,
                    licence_slot,
                },
                scheme,
                certificate,
                chain,
                signature,
            })
        };
        let order = parse(&mut r)?;
        r.finish().map_err(|e| bad(e.to_string()))?;
        Ok(order)
    }
}

/// A fixed-length field.
pub(crate) fn fixed<const N: usize>(b: &[u8], what: &str) -> Result<[u8; N], ContentError> {
    b.try_into()
        .map_err(|_| ContentError::InvalidInput(format!("{what} is not {N} bytes")))
}

/// Seconds since the Unix epoch.
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices() {
        for ok in ["12.50 EUR", "0 USD", "1000 JPY", "0.0001 BTC"] {
            assert_eq!(ok.parse::<Price>().unwrap().to_string(), ok);
        }
        for bad in [
            "12.50",
            "12.50 eur",
            "-1 EUR",
            "1. EUR",
            ".5 EUR",
            "01 EUR",
            "1.23456 EUR",
            "1 EURO",
            "",
        ] {
            assert!(bad.parse::<Price>().is_err(), "{bad}");
        }
    }
}
