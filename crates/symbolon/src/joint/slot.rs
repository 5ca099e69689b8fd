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
//!
//! A complete slot keeps its [`Record`]: λ(n) and every partial (d0 first,
//! reduced mod λ), as the patent's device keeps them (FIG. 18, memories
//! 541–543) — the token holds d, which factors n, so they expose nothing
//! more. They let the token give its views for the honest-generation check
//! (FIG. 19) and check re-entered partials one by one during rotation
//! (FIG. 21, steps 701–702), naming a wrong one.

use std::str::FromStr;

use crypto_bigint::BoxedUint;
use zeroize::Zeroizing;

use super::arith::{self, Secret};
use super::chain::{ChainMessage, ChainStatus, Purpose};
use super::JointError;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::keys::{RsaAlgorithm, RsaPrivateKey, RsaPublicKey};
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
    /// Reissue into a new token (FIG. 20), permitted by a complete request
    /// form: the key's public half, the number of parties, and the partials
    /// they re-enter (d0 first).
    Reissuing {
        n: Vec<u8>,
        e: Vec<u8>,
        parties: u32,
        partials: Vec<Zeroizing<Vec<u8>>>,
    },
    /// The key is in the slot; d0 waits for its release, or was released.
    Complete {
        d0: Option<Zeroizing<Vec<u8>>>,
        released: Option<(String, Vec<u8>)>,
        record: Record,
    },
    /// Rotation (FIG. 21): the old key stays in the slot until the commit;
    /// the old partials are re-entered and checked one by one, the new
    /// primes and e are made, the other parties' new partials collected.
    Rotating {
        old: Record,
        checked: Vec<bool>,
        bits: u32,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
        e: Vec<u8>,
        fresh: Vec<Option<Zeroizing<Vec<u8>>>>,
    },
}

/// What a complete slot keeps of how its key was made: λ(n) and the
/// partials, d0 first, each reduced mod λ. No `Debug`.
#[derive(Clone)]
pub(crate) struct Record {
    l: Zeroizing<Vec<u8>>,
    partials: Vec<Zeroizing<Vec<u8>>>,
}

impl Record {
    fn new(l: &Secret, partials: &[&BoxedUint], bits: u32) -> Result<Self, JointError> {
        Ok(Self {
            l: Zeroizing::new(arith::to_be(l.expose_secret())),
            partials: partials
                .iter()
                .map(|d| {
                    let reduced = Zeroizing::new(arith::reduce(d, l, bits)?);
                    Ok(Zeroizing::new(arith::to_be(&reduced)))
                })
                .collect::<Result<_, JointError>>()?,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.l);
        w.u32(self.partials.len() as u32);
        for d in &self.partials {
            w.bytes(d);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let l = Zeroizing::new(r.bytes("joint L")?.to_vec());
        let count = r.u32("joint partials")?;
        let partials = (0..count.min(17))
            .map(|_| r.bytes("joint partial").map(|d| Zeroizing::new(d.to_vec())))
            .collect::<Result<_, _>>()?;
        Ok(Self { l, partials })
    }
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
    /// Whether the slot's key is the composed joint key: `finish` (or a
    /// reissue) put it there, and a rotation keeps it until its commit.
    pub(crate) fn holds_composed_key(&self) -> bool {
        matches!(self, Self::Complete { .. } | Self::Rotating { .. })
    }

    /// `joint init`: fresh primes for an n of `algorithm`'s size, e from
    /// `e_start` (at least 65537) and the issuer's partial, both corrected.
    pub(crate) fn begin(
        algorithm: RsaAlgorithm,
        e_start: u64,
        partial: &[u8],
    ) -> Result<(Self, u64), JointError> {
        let bits = algorithm.bits() as u32;
        arith::check_e_start(e_start)?;
        check_partial(partial, bits)?;
        let (p, q) = arith::generate_primes(bits)?;
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

    /// `joint reissue-begin` (FIG. 20, step 613): permitted only by a
    /// complete request form — E(D_{k−1}(…D_0(Form))) = Form — that names
    /// this token and slot. The parties then re-enter their partials.
    pub(crate) fn reissue(
        permission: &ChainMessage,
        token: TokenSerial,
        slot: &SlotName,
    ) -> Result<Self, JointError> {
        let form = match (permission.purpose(), permission.form()) {
            (Purpose::Reissue, Some(form)) => form,
            _ => {
                return Err(JointError::InvalidInput(
                    "a reissue needs a reissue request form signed by every party".into(),
                ))
            }
        };
        match permission.status()? {
            ChainStatus::Complete => {}
            ChainStatus::Awaiting(i) => {
                return Err(JointError::InvalidInput(format!(
                    "the request form is not signed by every party yet ({} signs next)",
                    permission.parties()[i]
                )))
            }
            ChainStatus::Refused(r) => {
                return Err(JointError::Refused {
                    party: r.party.to_string(),
                    reason: r.reason,
                })
            }
        }
        if form.token != token || form.slot != *slot {
            return Err(JointError::InvalidInput(format!(
                "the request form permits a reissue into token {} slot {}, not token {token} slot {slot}",
                form.token, form.slot
            )));
        }
        let public = permission.key();
        Ok(Self::Reissuing {
            n: public.modulus().to_vec(),
            e: public.exponent().to_vec(),
            parties: permission.parties().len() as u32,
            partials: Vec::new(),
        })
    }

    /// `joint reissue-enter`: one party's (corrected) partial, as it signs
    /// with, in roster order (d0 first).
    pub(crate) fn reenter(&mut self, partial: &[u8]) -> Result<(), JointError> {
        let Self::Reissuing {
            n,
            parties,
            partials,
            ..
        } = self
        else {
            return Err(JointError::InvalidInput(
                "the slot is not being reissued".into(),
            ));
        };
        check_partial(partial, n.len() as u32 * 8 + 64)?;
        let bound = if *parties == 0 { 17 } else { *parties as usize };
        if partials.len() >= bound {
            return Err(JointError::InvalidInput(format!(
                "all {bound} partials are in; finish the reissue"
            )));
        }
        partials.push(Zeroizing::new(partial.to_vec()));
        Ok(())
    }

    /// `joint reissue-finish`: p and q recovered from the known multiple
    /// e·d0·d1·…·d_{k−1} − 1 of λ(n) (NIST SP 800-56B), p·q = n checked,
    /// the same key composed and tested. A wrong or missing partial fails
    /// here and nothing enters the slot.
    pub(crate) fn reissue_finish(&self) -> Result<(RsaPrivateKey, Self), JointError> {
        let Self::Reissuing {
            n,
            e,
            parties,
            partials,
        } = self
        else {
            return Err(JointError::InvalidInput(
                "the slot is not being reissued".into(),
            ));
        };
        if partials.len() < 2 || (*parties != 0 && partials.len() != *parties as usize) {
            return Err(JointError::InvalidInput(format!(
                "every party, d0's holder included, must re-enter its partial: {} of {parties} are in",
                partials.len()
            )));
        }
        let bits = n.len() as u32 * 8;
        let wide = bits * (partials.len() as u32 + 2) + 64;
        let n_big = arith::from_be(n, bits)?;
        let e_big = arith::from_be(e, bits)?;
        let mut k = Zeroizing::new(arith::fit(&e_big, wide));
        for d in partials {
            let d = Zeroizing::new(arith::from_be(d, wide)?);
            *k = arith::fit(&k.mul(&d), wide);
        }
        let k = Zeroizing::new(k.wrapping_sub(&arith::fit(&BoxedUint::one(), wide)));
        let (p, q) = arith::recover_factors(&n_big, &k, bits)?;
        if arith::modulus(&p, &q, bits) != n_big {
            return Err(JointError::Inconsistent(
                "the recovered primes do not make n".into(),
            ));
        }
        let ds: Vec<Zeroizing<BoxedUint>> = partials
            .iter()
            .map(|d| arith::from_be(d, bits + 64).map(Zeroizing::new))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&BoxedUint> = ds.iter().map(|d| &**d).collect();
        let key = arith::compose(&p, &q, &e_big, &refs, bits)?;
        if key.public_key().modulus() != n.as_slice() {
            return Err(JointError::Inconsistent(
                "the reissued key is not the original".into(),
            ));
        }
        let l = arith::carmichael(&p, &q, bits)?;
        let record = Record::new(&l, &refs, bits)?;
        Ok((
            key,
            Self::Complete {
                d0: None,
                released: None,
                record,
            },
        ))
    }

    /// `joint finish`: d0 and the composed key (pairwise tested). The
    /// primes are dropped; d0 stays for its one release.
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
        let e = arith::from_be(e, *bits)?;
        compose_new(&p, &q, &e, partials, *bits)
    }

    /// The record's partials (tests build chains with them).
    #[cfg(test)]
    pub(crate) fn test_partials(&self) -> Vec<Zeroizing<Vec<u8>>> {
        match self {
            Self::Complete { record, .. } => record.partials.clone(),
            _ => Vec::new(),
        }
    }

    /// The token's views for a check (FIG. 19): returns the views and the
    /// bytes the token signs them with.
    pub(crate) fn views(
        &self,
        message: &ChainMessage,
    ) -> Result<(Vec<super::chain::Hex>, Vec<u8>), JointError> {
        match self {
            Self::Complete { record, .. } if record.partials.is_empty() => Err(no_record()),
            Self::Complete { record, .. } => super::chain::views(message, &record.partials),
            _ => Err(JointError::InvalidInput(
                "the joint key is not complete (or is being rotated)".into(),
            )),
        }
    }

    /// `joint rotate begin` (FIG. 21): fresh primes of the same size and e
    /// from `e_start`, for a key that no old partial, and no old token,
    /// has anything to do with. The user must have taken d0 out first (it
    /// is re-entered as the first old partial).
    pub(crate) fn rotate_begin(&self, bits: u32, e_start: u64) -> Result<Self, JointError> {
        arith::check_e_start(e_start)?;
        let Self::Complete { d0, record, .. } = self else {
            return Err(JointError::InvalidInput(
                "only a complete joint key is rotated".into(),
            ));
        };
        if d0.is_some() {
            return Err(JointError::InvalidInput(
                "release d0 first (`joint output-d0`): the user re-enters it to rotate".into(),
            ));
        }
        if record.partials.is_empty() {
            return Err(no_record());
        }
        let (p, q) = arith::generate_primes(bits)?;
        let l = arith::carmichael(&p, &q, bits)?;
        let e = arith::coprime_from(&BoxedUint::from(e_start.max(arith::MIN_E)), &l, bits)?;
        let k = record.partials.len();
        Ok(Self::Rotating {
            old: record.clone(),
            checked: vec![false; k],
            bits,
            p: Zeroizing::new(arith::to_be(p.expose_secret())),
            q: Zeroizing::new(arith::to_be(q.expose_secret())),
            e: arith::to_be(&e),
            fresh: vec![None; k],
        })
    }

    /// The new public key of a rotation.
    pub(crate) fn rotation_public(&self) -> Result<RsaPublicKey, JointError> {
        let Self::Rotating { bits, p, q, e, .. } = self else {
            return Err(JointError::InvalidInput("no rotation is under way".into()));
        };
        let n = arith::modulus(&secret(p, *bits)?, &secret(q, *bits)?, *bits);
        RsaPublicKey::from_components(&arith::to_be(&n), e)
            .map_err(|e| JointError::Internal(e.to_string()))
    }

    /// `joint rotate enter` (steps 700–702): party `party` (0 = d0's holder,
    /// then in the order the partials first entered) re-enters its old
    /// partial — checked against the one the token holds, in constant time,
    /// and named if wrong (step 707) — and, except the user, its new
    /// partial, corrected; returns the new partial's offset δ.
    pub(crate) fn rotate_enter(
        &mut self,
        party: usize,
        old_partial: &[u8],
        new_partial: Option<&[u8]>,
    ) -> Result<Option<u64>, JointError> {
        let Self::Rotating {
            old,
            checked,
            bits,
            p,
            q,
            fresh,
            ..
        } = self
        else {
            return Err(JointError::InvalidInput(
                "no rotation is under way (`joint rotate begin`)".into(),
            ));
        };
        let k = old.partials.len();
        if party >= k {
            return Err(JointError::InvalidInput(format!(
                "party {party} does not exist: this key has parties 0 (d0) to {}",
                k - 1
            )));
        }
        if checked[party] {
            return Err(JointError::InvalidInput(format!(
                "party {party} has entered its partials already"
            )));
        }
        match (party, new_partial) {
            (0, Some(_)) => {
                return Err(JointError::InvalidInput(
                    "the user enters only the old d0: the token makes d0_NEW".into(),
                ))
            }
            (1.., None) => {
                return Err(JointError::InvalidInput(format!(
                    "party {party} enters its old partial and a new one"
                )))
            }
            _ => {}
        }
        let old_bits = old.l.len() as u32 * 8;
        let l_old = secret(&old.l, old_bits)?;
        let entered = Zeroizing::new(arith::from_be(
            old_partial,
            old_bits.max(old_partial.len() as u32 * 8),
        )?);
        let entered = Zeroizing::new(arith::reduce(&entered, &l_old, old_bits)?);
        let held = Zeroizing::new(arith::from_be(&old.partials[party], old_bits)?);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&*entered, &*held)) {
            return Err(JointError::WrongPartial {
                party: format!("party {party}"),
                detail: format!(
                    "the old partial entered for party {party} is not the one this token holds (FIG. 21 steps 701–702); nothing was changed"
                ),
            });
        }
        let offset = match new_partial {
            Some(d) => {
                check_partial(d, *bits)?;
                let l = arith::carmichael(&secret(p, *bits)?, &secret(q, *bits)?, *bits)?;
                let start = Zeroizing::new(arith::from_be(d, *bits)?);
                let (corrected, offset) = arith::correct(&start, &l, *bits)?;
                let corrected = Zeroizing::new(corrected);
                fresh[party] = Some(Zeroizing::new(arith::to_be(&corrected)));
                Some(offset)
            }
            None => None,
        };
        checked[party] = true;
        Ok(offset)
    }

    /// The parties whose partials a rotation still waits for.
    pub(crate) fn rotation_waiting(&self) -> Vec<u32> {
        match self {
            Self::Rotating { checked, .. } => checked
                .iter()
                .enumerate()
                .filter(|(_, c)| !**c)
                .map(|(i, _)| i as u32)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether every old partial checked out and every new one is in: only
    /// then may stored data be re-encrypted (step 704) or the rotation
    /// committed.
    pub(crate) fn rotation_ready(&self) -> Result<(), JointError> {
        let waiting = self.rotation_waiting();
        if !matches!(self, Self::Rotating { .. }) {
            return Err(JointError::InvalidInput(
                "no rotation is under way (`joint rotate begin`)".into(),
            ));
        }
        if !waiting.is_empty() {
            return Err(JointError::InvalidInput(format!(
                "the rotation waits for parties {waiting:?} to enter their partials"
            )));
        }
        Ok(())
    }

    /// `joint rotate commit` (steps 703, 705–706): d0_NEW, the new key
    /// (pairwise tested) for the slot; the old partials are dropped with
    /// this state, d0_NEW waits for its one release.
    pub(crate) fn rotate_commit(&self) -> Result<(RsaPrivateKey, Self), JointError> {
        self.rotation_ready()?;
        let Self::Rotating {
            bits,
            p,
            q,
            e,
            fresh,
            ..
        } = self
        else {
            return Err(JointError::InvalidInput("no rotation is under way".into()));
        };
        let (p, q) = (secret(p, *bits)?, secret(q, *bits)?);
        let e = arith::from_be(e, *bits)?;
        let partials: Vec<Zeroizing<Vec<u8>>> = fresh.iter().skip(1).flatten().cloned().collect();
        compose_new(&p, &q, &e, &partials, *bits)
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
        let Self::Complete {
            d0,
            released,
            record,
        } = self
        else {
            return Err(JointError::InvalidInput(
                "there is no d0 to release yet: finish the joint key (`joint finish`) or the rotation (`joint rotate-commit`) first".into(),
            ));
        };
        match (d0, released) {
            (_, Some((to, c))) => {
                if to == recipient {
                    Ok((self.clone(), c.clone()))
                } else {
                    Err(JointError::AlreadyReleased)
                }
            }
            (None, None) => Err(JointError::AlreadyReleased),
            (Some(d0), None) => {
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
                        record: record.clone(),
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
            Self::Complete {
                d0,
                released,
                record,
            } => {
                w.u8(5);
                w.bool(d0.is_some());
                if let Some(d0) = d0 {
                    w.bytes(d0);
                }
                w.bool(released.is_some());
                if let Some((to, c)) = released {
                    w.str(to);
                    w.bytes(c);
                }
                record.encode(w);
            }
            Self::Reissuing {
                n,
                e,
                parties,
                partials,
            } => {
                w.u8(6);
                w.bytes(n);
                w.bytes(e);
                w.u32(*parties);
                w.u32(partials.len() as u32);
                for d in partials {
                    w.bytes(d);
                }
            }
            Self::Rotating {
                old,
                checked,
                bits,
                p,
                q,
                e,
                fresh,
            } => {
                w.u8(4);
                old.encode(w);
                w.u32(*bits);
                w.bytes(p);
                w.bytes(q);
                w.bytes(e);
                w.u32(checked.len() as u32);
                for (c, f) in checked.iter().zip(fresh) {
                    w.bool(*c);
                    w.bool(f.is_some());
                    if let Some(f) = f {
                        w.bytes(f);
                    }
                }
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let partials =
            |r: &mut Reader<'_>, max: u32| -> Result<Vec<Zeroizing<Vec<u8>>>, DecodeError> {
                let n = r.u32("joint partials")?;
                (0..n.min(max))
                    .map(|_| r.bytes("joint partial").map(|d| Zeroizing::new(d.to_vec())))
                    .collect()
            };
        Ok(match r.u8("joint stage")? {
            1 => {
                let bits = r.u32("joint bits")?;
                let p = Zeroizing::new(r.bytes("joint p")?.to_vec());
                let q = Zeroizing::new(r.bytes("joint q")?.to_vec());
                let e = r.bytes("joint e")?.to_vec();
                Self::Collecting {
                    bits,
                    p,
                    q,
                    e,
                    partials: partials(r, 16)?,
                }
            }
            // 2 and 3: slots written before complete slots kept their record
            // and reissues their roster size.
            stage @ (2 | 5) => {
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
                let record = if stage == 5 {
                    Record::decode(r)?
                } else {
                    Record {
                        l: Zeroizing::new(Vec::new()),
                        partials: Vec::new(),
                    }
                };
                Self::Complete {
                    d0,
                    released,
                    record,
                }
            }
            stage @ (3 | 6) => {
                let n = r.bytes("joint n")?.to_vec();
                let e = r.bytes("joint e")?.to_vec();
                let parties = if stage == 6 {
                    r.u32("joint parties")?
                } else {
                    0
                };
                Self::Reissuing {
                    n,
                    e,
                    parties,
                    partials: partials(r, 17)?,
                }
            }
            4 => {
                let old = Record::decode(r)?;
                let bits = r.u32("joint bits")?;
                let p = Zeroizing::new(r.bytes("joint p")?.to_vec());
                let q = Zeroizing::new(r.bytes("joint q")?.to_vec());
                let e = r.bytes("joint e")?.to_vec();
                let count = r.u32("joint parties")?.min(17);
                let mut checked = Vec::new();
                let mut fresh = Vec::new();
                for _ in 0..count {
                    checked.push(r.bool("joint checked")?);
                    fresh.push(if r.bool("joint new partial")? {
                        Some(Zeroizing::new(r.bytes("joint new partial")?.to_vec()))
                    } else {
                        None
                    });
                }
                Self::Rotating {
                    old,
                    checked,
                    bits,
                    p,
                    q,
                    e,
                    fresh,
                }
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

/// A complete slot written by an earlier symbolon keeps no record.
fn no_record() -> JointError {
    JointError::InvalidInput(
        "this joint key was made by an earlier symbolon that kept no record of its partials: reissue it (`joint form-new`, `joint reissue-*`) to check or rotate it".into(),
    )
}

/// d0 = (e·d1·…)⁻¹ mod λ and the composed key, with the record the
/// complete slot keeps.
fn compose_new(
    p: &Secret,
    q: &Secret,
    e: &BoxedUint,
    partials: &[Zeroizing<Vec<u8>>],
    bits: u32,
) -> Result<(RsaPrivateKey, JointSlot), JointError> {
    let l = arith::carmichael(p, q, bits)?;
    let ds: Vec<Zeroizing<BoxedUint>> = partials
        .iter()
        .map(|d| arith::from_be(d, bits).map(Zeroizing::new))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&BoxedUint> = ds.iter().map(|d| &**d).collect();
    let d0 = arith::complement(e, &refs, &l, bits)?;
    let mut exps = vec![d0.expose_secret()];
    exps.extend(refs.iter().copied());
    let key = arith::compose(p, q, e, &exps, bits)?;
    let record = Record::new(&l, &exps, bits)?;
    Ok((
        key,
        JointSlot::Complete {
            d0: Some(Zeroizing::new(arith::to_be(d0.expose_secret()))),
            released: None,
            record,
        },
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete slot written before slots kept their record still opens;
    /// its check and rotation are refused with what to do.
    #[test]
    fn a_slot_from_before_records_opens_and_refuses_check_and_rotation() {
        let mut w = Writer::new();
        w.u8(2);
        w.bool(false);
        w.bool(true);
        w.str("age1someone");
        w.bytes(b"sealed d0");
        let bytes = w.into_bytes();
        let slot = JointSlot::decode(&mut Reader::new(&bytes)).unwrap();
        let err = slot.rotate_begin(2048, 65537).err().unwrap();
        assert!(err.to_string().contains("reissue it"), "{err}");
        // The released d0 is still fetched again for the same recipient.
        let (_, again) = slot
            .release(
                TokenSerial::from_bytes([1; 16]),
                &SlotName::new("j").unwrap(),
                "age1someone",
            )
            .unwrap();
        assert_eq!(again, b"sealed d0");
        // A legacy reissue takes up to 17 partials and finishes with any ≥ 2.
        let mut w = Writer::new();
        w.u8(3);
        w.bytes(&[0xc5; 256]);
        w.bytes(&[1, 0, 1]);
        w.u32(0);
        let bytes = w.into_bytes();
        let mut slot = JointSlot::decode(&mut Reader::new(&bytes)).unwrap();
        slot.reenter(&[0x80; 256]).unwrap();
        assert!(slot.reissue_finish().is_err());
        // Round trip of the current encoding keeps the stage.
        let mut w = Writer::new();
        slot.encode(&mut w);
        let bytes = w.into_bytes();
        assert!(matches!(
            JointSlot::decode(&mut Reader::new(&bytes)).unwrap(),
            JointSlot::Reissuing { parties: 0, .. }
        ));
    }
}
