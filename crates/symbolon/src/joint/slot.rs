//! A token's joint slot (FIG. 18): the state between the issuer's
//! `joint init` and the user's `joint finish`, and afterwards d0 waiting for
//! its one release.
//!
//! d0 leaves the token once, sealed (age) to the recipient the user names:
//! the release is committed to the sealed state together with its
//! ciphertext before the ciphertext is returned, so a crash before the
//! commit releases nothing, and a crash after it leaves the same ciphertext
//! to be fetched again for the same recipient (the user never loses d0) —
//! never a second release, and never to anyone else.

use std::str::FromStr;

use crypto_bigint::BoxedUint;
use zeroize::Zeroizing;

use super::arith::{self, Secret};
use super::JointError;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::keys::{RsaAlgorithm, RsaPrivateKey};
use crate::token::{SlotName, TokenSerial};

const D0_DOMAIN: &str = "symbolon joint d0 v1";

/// A joint slot's state. No `Debug`.
#[derive(Clone)]
pub(crate) enum JointSlot {
    /// The issuer has begun; partials are being entered.
    Collecting {
        bits: u32,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
        e: Vec<u8>,
        partials: Vec<Zeroizing<Vec<u8>>>,
    },
    /// Reissue into a new token (FIG. 20): the key's public half, and the
    /// partials the parties re-enter (d0 included).
    Reissuing {
        n: Vec<u8>,
        e: Vec<u8>,
        partials: Vec<Zeroizing<Vec<u8>>>,
    },
    /// The key is in the slot; d0 waits for its release, or was released.
    Complete {
        d0: Option<Zeroizing<Vec<u8>>>,
        released: Option<(String, Vec<u8>)>,
    },
}

fn secret(bytes: &[u8], bits: u32) -> Result<Secret, JointError> {
    Ok(Secret(Zeroizing::new(arith::from_be(bytes, bits)?)))
}

fn check_partial(partial: &[u8], bits: u32) -> Result<(), JointError> {
    let significant = partial.iter().skip_while(|&&b| b == 0).count();
    if significant * 8 < 128 || significant * 8 > bits as usize {
        return Err(JointError::InvalidInput(format!(
            "a partial exponent must be 128 to {bits} bits of entropy (full length is best); this one has {} bytes",
            significant
        )));
    }
    Ok(())
}

impl JointSlot {
    /// `joint init`: fresh primes for an n of `algorithm`'s size, e from
    /// `e_start` (at least 65537) and the issuer's partial, both corrected.
    pub(crate) fn begin(
        algorithm: RsaAlgorithm,
        e_start: u64,
        partial: &[u8],
    ) -> Result<(Self, u64), JointError> {
        let bits = algorithm.bits() as u32;
        check_partial(partial, bits)?;
        let (p, q) = arith::generate_primes(bits);
        let l = arith::carmichael(&p, &q, bits)?;
        let e = arith::coprime_from(&BoxedUint::from(e_start.max(arith::MIN_E)), &l, bits)?;
        let (d1, offset) = arith::correct(&arith::from_be(partial, bits)?, &l, bits)?;
        Ok((
            Self::Collecting {
                bits,
                p: Zeroizing::new(arith::to_be(p.expose_secret())),
                q: Zeroizing::new(arith::to_be(q.expose_secret())),
                e: arith::to_be(&e),
                partials: vec![Zeroizing::new(arith::to_be(&d1))],
            },
            offset,
        ))
    }

    /// `joint contribute`: one more party's partial, corrected; returns the
    /// offset the party adds to its partial.
    pub(crate) fn contribute(&mut self, partial: &[u8]) -> Result<u64, JointError> {
        let Self::Collecting {
            bits,
            p,
            q,
            partials,
            ..
        } = self
        else {
            return Err(JointError::InvalidInput(
                "the joint key is complete; no more partials are taken".into(),
            ));
        };
        check_partial(partial, *bits)?;
        if partials.len() >= 16 {
            return Err(JointError::InvalidInput("at most 16 partials".into()));
        }
        let l = arith::carmichael(&secret(p, *bits)?, &secret(q, *bits)?, *bits)?;
        let (d, offset) = arith::correct(&arith::from_be(partial, *bits)?, &l, *bits)?;
        partials.push(Zeroizing::new(arith::to_be(&d)));
        Ok(offset)
    }

    /// `joint reissue-begin`: a new token is to hold the key with public
    /// half (n, e); the parties re-enter their partials.
    pub(crate) fn reissue(public: &crate::keys::RsaPublicKey) -> Result<Self, JointError> {
        public
            .check_policy()
            .map_err(|e| JointError::InvalidInput(e.to_string()))?;
        Ok(Self::Reissuing {
            n: public.modulus().to_vec(),
            e: public.exponent().to_vec(),
            partials: Vec::new(),
        })
    }

    /// `joint reissue-enter`: one party's (corrected) partial, as it signs with.
    pub(crate) fn reenter(&mut self, partial: &[u8]) -> Result<(), JointError> {
        let Self::Reissuing { n, partials, .. } = self else {
            return Err(JointError::InvalidInput(
                "the slot is not being reissued".into(),
            ));
        };
        check_partial(partial, n.len() as u32 * 8 + 64)?;
        if partials.len() >= 17 {
            return Err(JointError::InvalidInput("at most 17 partials".into()));
        }
        partials.push(Zeroizing::new(partial.to_vec()));
        Ok(())
    }

    /// `joint reissue-finish`: p and q recovered from the known multiple
    /// e·d0·d1·…·d_{k−1} − 1 of λ(n) (NIST SP 800-56B), p·q = n checked,
    /// the same key composed and tested. A wrong or missing partial fails
    /// here and nothing enters the slot.
    pub(crate) fn reissue_finish(&self) -> Result<RsaPrivateKey, JointError> {
        let Self::Reissuing { n, e, partials } = self else {
            return Err(JointError::InvalidInput(
                "the slot is not being reissued".into(),
            ));
        };
        if partials.len() < 2 {
            return Err(JointError::InvalidInput(
                "every party, d0's holder included, must re-enter its partial".into(),
            ));
        }
        let bits = n.len() as u32 * 8;
        let wide = bits * (partials.len() as u32 + 2) + 64;
        let n_big = arith::from_be(n, bits)?;
        let e_big = arith::from_be(e, bits)?;
        let mut k = Zeroizing::new(arith::fit(&e_big, wide));
        for d in partials {
            let d = arith::from_be(d, wide)?;
            *k = arith::fit(&k.mul(&d), wide);
        }
        let k = Zeroizing::new(k.wrapping_sub(&arith::fit(&BoxedUint::one(), wide)));
        let (p, q) = arith::recover_factors(&n_big, &k, bits)?;
        if arith::modulus(&p, &q, bits) != n_big {
            return Err(JointError::Inconsistent(
                "the recovered primes do not make n".into(),
            ));
        }
        let ds: Vec<BoxedUint> = partials
            .iter()
            .map(|d| arith::from_be(d, bits + 64))
            .collect::<Result<_, _>>()?;
        let key = arith::compose(&p, &q, &e_big, &ds.iter().collect::<Vec<_>>(), bits)?;
        if key.public_key().modulus() != n.as_slice() {
            return Err(JointError::Inconsistent(
                "the reissued key is not the original".into(),
            ));
        }
        Ok(key)
    }

    /// `joint finish`: d0 and the composed key (pairwise tested). The
    /// primes and partials are dropped; d0 stays for its one release.
    pub(crate) fn finish(&self) -> Result<(RsaPrivateKey, Self), JointError> {
        let Self::Collecting {
            bits,
            p,
            q,
            e,
            partials,
        } = self
        else {
            return Err(JointError::InvalidInput(
                "the joint key is complete already".into(),
            ));
        };
        let (p, q) = (secret(p, *bits)?, secret(q, *bits)?);
        let l = arith::carmichael(&p, &q, *bits)?;
        let e = arith::from_be(e, *bits)?;
        let ds: Vec<BoxedUint> = partials
            .iter()
            .map(|d| arith::from_be(d, *bits))
            .collect::<Result<_, _>>()?;
        let d0 = arith::complement(&e, &ds.iter().collect::<Vec<_>>(), &l, *bits)?;
        let mut exps = vec![d0.expose_secret()];
        exps.extend(ds.iter());
        let key = arith::compose(&p, &q, &e, &exps, *bits)?;
        Ok((
            key,
            Self::Complete {
                d0: Some(Zeroizing::new(arith::to_be(d0.expose_secret()))),
                released: None,
            },
        ))
    }

    /// `joint output-d0`: seals d0 to `recipient` (age X25519) once; for the
    /// same recipient again, the same ciphertext. Returns the new state (to
    /// commit before the ciphertext leaves) and the ciphertext.
    pub(crate) fn release(
        &self,
        token: TokenSerial,
        slot: &SlotName,
        recipient: &str,
    ) -> Result<(Self, Vec<u8>), JointError> {
        match self {
            Self::Collecting { .. } | Self::Reissuing { .. } => Err(JointError::InvalidInput(
                "finish the joint key first (`joint finish`)".into(),
            )),
            Self::Complete {
                released: Some((to, c)),
                ..
            } => {
                if to == recipient {
                    Ok((self.clone(), c.clone()))
                } else {
                    Err(JointError::AlreadyReleased)
                }
            }
            Self::Complete { d0: None, .. } => Err(JointError::AlreadyReleased),
            Self::Complete {
                d0: Some(d0),
                released: None,
            } => {
                let r = age::x25519::Recipient::from_str(recipient).map_err(|e| {
                    JointError::InvalidInput(format!("{recipient:?} is not an age recipient: {e}"))
                })?;
                let mut w = Writer::with_domain(D0_DOMAIN);
                w.bytes(token.as_bytes());
                w.str(slot.as_str());
                w.bytes(d0);
                let ciphertext = age::encrypt(&r, &w.into_bytes())
                    .map_err(|e| JointError::Internal(e.to_string()))?;
                Ok((
                    Self::Complete {
                        d0: None,
                        released: Some((recipient.to_string(), ciphertext.clone())),
                    },
                    ciphertext,
                ))
            }
        }
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        match self {
            Self::Collecting {
                bits,
                p,
                q,
                e,
                partials,
            } => {
                w.u8(1);
                w.u32(*bits);
                w.bytes(p);
                w.bytes(q);
                w.bytes(e);
                w.u32(partials.len() as u32);
                for d in partials {
                    w.bytes(d);
                }
            }
            Self::Reissuing { n, e, partials } => {
                w.u8(3);
                w.bytes(n);
                w.bytes(e);
                w.u32(partials.len() as u32);
                for d in partials {
                    w.bytes(d);
                }
            }
            Self::Complete { d0, released } => {
                w.u8(2);
                w.bool(d0.is_some());
                if let Some(d0) = d0 {
                    w.bytes(d0);
                }
                w.bool(released.is_some());
                if let Some((to, c)) = released {
                    w.str(to);
                    w.bytes(c);
                }
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("joint stage")? {
            1 => {
                let bits = r.u32("joint bits")?;
                let p = Zeroizing::new(r.bytes("joint p")?.to_vec());
                let q = Zeroizing::new(r.bytes("joint q")?.to_vec());
                let e = r.bytes("joint e")?.to_vec();
                let n = r.u32("joint partials")?;
                let partials = (0..n.min(16))
                    .map(|_| r.bytes("joint partial").map(|d| Zeroizing::new(d.to_vec())))
                    .collect::<Result<_, _>>()?;
                Self::Collecting {
                    bits,
                    p,
                    q,
                    e,
                    partials,
                }
            }
            2 => {
                let d0 = if r.bool("d0 held")? {
                    Some(Zeroizing::new(r.bytes("d0")?.to_vec()))
                } else {
                    None
                };
                let released = if r.bool("d0 released")? {
                    Some((
                        r.str("d0 recipient")?.to_string(),
                        r.bytes("d0 ciphertext")?.to_vec(),
                    ))
                } else {
                    None
                };
                Self::Complete { d0, released }
            }
            3 => {
                let n = r.bytes("joint n")?.to_vec();
                let e = r.bytes("joint e")?.to_vec();
                let count = r.u32("joint partials")?;
                let partials = (0..count.min(17))
                    .map(|_| r.bytes("joint partial").map(|d| Zeroizing::new(d.to_vec())))
                    .collect::<Result<_, _>>()?;
                Self::Reissuing { n, e, partials }
            }
            _ => {
                return Err(DecodeError::Invalid {
                    field: "joint stage",
                    reason: "unknown",
                })
            }
        })
    }
}

/// Opens a released d0 with the user's age identity; returns the token
/// serial, the slot and d0 (big-endian).
pub fn open_d0(
    identity: &age::x25519::Identity,
    ciphertext: &[u8],
) -> Result<(TokenSerial, SlotName, Zeroizing<Vec<u8>>), JointError> {
    let plain = Zeroizing::new(age::decrypt(identity, ciphertext).map_err(|e| {
        JointError::InvalidInput(format!("d0 does not open with this identity: {e}"))
    })?);
    let bad = |e: DecodeError| JointError::InvalidInput(format!("not a released d0: {e}"));
    let mut r = Reader::new(&plain);
    r.domain(D0_DOMAIN).map_err(bad)?;
    let serial = TokenSerial::from_bytes(
        r.bytes("token")
            .map_err(bad)?
            .try_into()
            .map_err(|_| JointError::InvalidInput("token serial".into()))?,
    );
    let slot = SlotName::new(r.str("slot").map_err(bad)?)
        .map_err(|e| JointError::InvalidInput(e.to_string()))?;
    let d0 = Zeroizing::new(r.bytes("d0").map_err(bad)?.to_vec());
    r.finish().map_err(bad)?;
    Ok((serial, slot, d0))
}
