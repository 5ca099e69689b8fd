//! The escrow key's secret, shared down the policy tree with Feldman VSS
//! (vsss-rs over P-256).
//!
//! The root secret s is a random P-256 scalar; the escrow key is
//! HKDF-SHA-256(s). A node with threshold k of n children splits its secret
//! with a degree k−1 polynomial (`any(k, …)`: k; `all` and `seq`: n) and
//! publishes the commitments G·a₀ … G·a_{k−1}; child i's secret is the
//! polynomial at x = i+1. A node with threshold 1 gives every child the
//! secret itself and publishes G·s. Leaves' secrets go to the arbitrators.
//! Anyone can check a share against its parent's commitments without
//! learning anything; the enclave combines bottom-up with Lagrange
//! interpolation and checks every intermediate secret the same way.
//! Commitments are keyed by the path of the node that split (the root's
//! parent is the empty path, committing G·s).

use std::collections::BTreeMap;

use p256::elliptic_curve::group::{Group, GroupEncoding};
use p256::elliptic_curve::{Field, PrimeField};
use p256::{ProjectivePoint, Scalar};
use vsss_rs::{
    feldman, DefaultShare, FeldmanVerifierSet, IdentifierPrimeField, ReadableShareSet, Share,
    ShareVerifierGroup,
};
use zeroize::Zeroizing;

use super::{ArbitratorId, EscrowError, Policy};
use crate::encoding::{Reader, Writer};

type Sc = IdentifierPrimeField<Scalar>;
type VShare = DefaultShare<Sc, Sc>;
type Verifier = ShareVerifierGroup<ProjectivePoint>;

/// A node's path: child indexes from the root (`[0]` is the root itself).
pub type Path = Vec<u16>;

/// The public commitments of every splitting node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commitments {
    nodes: BTreeMap<Path, Vec<[u8; 33]>>,
}

/// One arbitrator's share: its leaf's secret. No `Debug` or `Clone`.
pub struct LeafShare {
    /// The leaf's path.
    pub path: Path,
    value: Zeroizing<[u8; 32]>,
}

fn internal(e: impl std::fmt::Display) -> EscrowError {
    EscrowError::Internal(e.to_string())
}

fn point_bytes(p: &ProjectivePoint) -> [u8; 33] {
    let mut out = [0u8; 33];
    out.copy_from_slice(p.to_bytes().as_ref());
    out
}

fn point(b: &[u8; 33]) -> Option<ProjectivePoint> {
    Option::from(ProjectivePoint::from_bytes(b.into()))
}

fn scalar(b: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_repr((*b).into()))
}

fn x_of(path: &[u16]) -> Scalar {
    Scalar::from(u64::from(path.last().copied().unwrap_or(0)) + 1)
}

/// A fresh random nonzero root secret.
pub(crate) fn random_secret() -> Zeroizing<[u8; 32]> {
    let s = Scalar::random(&mut rand_core::OsRng);
    Zeroizing::new(s.to_repr().into())
}

/// Splits `secret` over `policy`: the commitments and each arbitrator's share.
pub(crate) fn split(
    policy: &Policy,
    secret: &[u8; 32],
) -> Result<(Commitments, BTreeMap<ArbitratorId, LeafShare>), EscrowError> {
    let s = scalar(secret).ok_or_else(|| internal("the root secret is not a scalar"))?;
    let mut c = Commitments::default();
    c.nodes.insert(
        Vec::new(),
        vec![point_bytes(&(ProjectivePoint::GENERATOR * s))],
    );
    let mut shares = BTreeMap::new();
    split_node(policy, vec![0], s, &mut c, &mut shares)?;
    Ok((c, shares))
}

fn split_node(
    node: &Policy,
    path: Path,
    secret: Scalar,
    c: &mut Commitments,
    shares: &mut BTreeMap<ArbitratorId, LeafShare>,
) -> Result<(), EscrowError> {
    let children = match node {
        Policy::Arbitrator(a) => {
            shares.insert(
                a.clone(),
                LeafShare {
                    path,
                    value: Zeroizing::new(secret.to_repr().into()),
                },
            );
            return Ok(());
        }
        _ => node.children(),
    };
    let k = node.threshold();
    let child_secrets: Vec<Scalar> = if k == 1 {
        c.nodes.insert(
            path.clone(),
            vec![point_bytes(&(ProjectivePoint::GENERATOR * secret))],
        );
        vec![secret; children.len()]
    } else {
        let (vshares, verifiers) = feldman::split_secret::<VShare, Verifier>(
            k,
            children.len(),
            &IdentifierPrimeField(secret),
            None,
            &mut rand_core::OsRng,
        )
        .map_err(internal)?;
        // verifiers[0] is the generator; the rest commit to the coefficients.
        c.nodes.insert(
            path.clone(),
            verifiers[1..].iter().map(|v| point_bytes(&v.0)).collect(),
        );
        let mut by_x: Vec<(Scalar, Scalar)> = vshares
            .iter()
            .map(|s| (s.identifier().0, s.value().0))
            .collect();
        by_x.sort_by_key(|(x, _)| x.to_repr());
        (0..children.len())
            .map(|i| {
                let x = Scalar::from(i as u64 + 1);
                by_x.iter()
                    .find(|(sx, _)| *sx == x)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| internal("vsss-rs numbered the shares unexpectedly"))
            })
            .collect::<Result<_, _>>()?
    };
    for (i, (child, s)) in children.iter().zip(child_secrets).enumerate() {
        let mut p = path.clone();
        p.push(i as u16);
        split_node(child, p, s, c, shares)?;
    }
    Ok(())
}

impl Commitments {
    /// Checks that `value` is the secret of the node at `path`.
    pub fn verify(&self, path: &[u16], value: &[u8; 32]) -> bool {
        let Some(parent) = path.split_last().map(|(_, p)| p) else {
            return false;
        };
        let (Some(points), Some(v)) = (self.nodes.get(parent), scalar(value)) else {
            return false;
        };
        let Some(points) = points.iter().map(point).collect::<Option<Vec<_>>>() else {
            return false;
        };
        let mut set = vec![Verifier::from(ProjectivePoint::GENERATOR)];
        set.extend(points.into_iter().map(Verifier::from));
        let share = VShare::with_identifier_and_value(
            IdentifierPrimeField(x_of(path)),
            IdentifierPrimeField(v),
        );
        <Vec<Verifier> as FeldmanVerifierSet<VShare, Verifier>>::verify_share(&set, &share).is_ok()
    }

    /// Checks many node secrets at once: true iff every `(path, value)` is
    /// the secret of the node at `path`, up to a chance of 2⁻²⁵⁶ per call.
    ///
    /// One random linear combination of the Feldman equations
    /// (Σ rₙ·sₙ)·G = Σ_C (Σ rₙ·xₙʲ)·C_j, with fresh random weights rₙ the
    /// prover cannot predict: one scalar multiplication per commitment
    /// point involved, instead of one per point per share. A false answer
    /// says only that some item fails; [`Commitments::verify`] on each
    /// finds which. The secrets enter only the scalar sum Σ rₙ·sₙ and one
    /// multiplication of G, both constant time in p256.
    pub fn verify_batch(&self, items: &[(&[u16], &[u8; 32])]) -> bool {
        let mut weighted_secrets = Scalar::ZERO;
        // Per splitting node: the coefficient of each of its points.
        let mut coefficients: BTreeMap<&[u16], Vec<Scalar>> = BTreeMap::new();
        for (path, value) in items {
            let Some(parent) = path.split_last().map(|(_, p)| p) else {
                return false;
            };
            let (Some(points), Some(v)) = (self.nodes.get(parent), scalar(value)) else {
                return false;
            };
            let r = Scalar::random(&mut rand_core::OsRng);
            weighted_secrets += r * v;
            let c = coefficients
                .entry(parent)
                .or_insert_with(|| vec![Scalar::ZERO; points.len()]);
            let x = x_of(path);
            let mut power = r;
            for coefficient in c.iter_mut() {
                *coefficient += power;
                power *= x;
            }
        }
        let mut sum = ProjectivePoint::GENERATOR * weighted_secrets;
        for (parent, c) in coefficients {
            let Some(points) = self.nodes.get(parent) else {
                return false;
            };
            for (p, k) in points.iter().zip(c) {
                let Some(p) = point(p) else {
                    return false;
                };
                sum -= p * k;
            }
        }
        bool::from(sum.is_identity())
    }

    /// The canonical encoding.
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.nodes.len() as u32);
        for (path, points) in &self.nodes {
            w.u32(path.len() as u32);
            for p in path {
                w.u16(*p);
            }
            w.u32(points.len() as u32);
            for p in points {
                w.bytes(p);
            }
        }
    }

    /// Reads the canonical encoding.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, EscrowError> {
        let bad = |e: crate::encoding::DecodeError| {
            EscrowError::InvalidInput(format!("commitments: {e}"))
        };
        let mut nodes = BTreeMap::new();
        let n = r.u32("nodes").map_err(bad)?;
        for _ in 0..n.min(100_000) {
            let depth = r.u32("depth").map_err(bad)?;
            let path = (0..depth.min(64))
                .map(|_| r.u16("path").map_err(bad))
                .collect::<Result<Path, _>>()?;
            let m = r.u32("points").map_err(bad)?;
            let points = (0..m.min(1001))
                .map(|_| {
                    r.bytes("point").map_err(bad)?.try_into().map_err(|_| {
                        EscrowError::InvalidInput("a commitment is not a 33-byte point".into())
                    })
                })
                .collect::<Result<Vec<[u8; 33]>, _>>()?;
            nodes.insert(path, points);
        }
        Ok(Self { nodes })
    }
}

impl LeafShare {
    /// From a decoded share file.
    pub(crate) fn new(path: Path, value: [u8; 32]) -> Self {
        Self {
            path,
            value: Zeroizing::new(value),
        }
    }

    /// The secret, for encoding into its envelope.
    pub(crate) fn value(&self) -> &[u8; 32] {
        &self.value
    }
}

/// Combines verified leaf secrets bottom-up into the root secret, checking
/// every node's secret against its parent's commitments. `None` when too
/// few shares are present.
pub(crate) fn combine(
    policy: &Policy,
    commitments: &Commitments,
    leaves: &BTreeMap<ArbitratorId, LeafShare>,
) -> Result<Option<Zeroizing<[u8; 32]>>, EscrowError> {
    let mut used = Vec::new();
    let root = combine_node(policy, vec![0], leaves, &mut used)?;
    // Every secret used, leaves and interpolated nodes, checked at once;
    // when that fails, one by one (bottom-up, as they were made) to name
    // the first node that does not match.
    let items: Vec<(&[u16], &[u8; 32])> = used.iter().map(|(p, s)| (p.as_slice(), &**s)).collect();
    if !commitments.verify_batch(&items) {
        if let Some((path, _)) = items.iter().find(|(p, s)| !commitments.verify(p, s)) {
            return Err(EscrowError::EscrowDamaged(format!(
                "the secret of policy node {path:?} does not match its commitments"
            )));
        }
    }
    Ok(root)
}

/// Combines bottom-up; every secret it uses goes into `used`, to be
/// checked against the commitments.
fn combine_node(
    node: &Policy,
    path: Path,
    leaves: &BTreeMap<ArbitratorId, LeafShare>,
    used: &mut Vec<(Path, Zeroizing<[u8; 32]>)>,
) -> Result<Option<Zeroizing<[u8; 32]>>, EscrowError> {
    let secret: Zeroizing<[u8; 32]> = match node {
        Policy::Arbitrator(a) => match leaves.get(a) {
            Some(l) => Zeroizing::new(*l.value),
            None => return Ok(None),
        },
        _ => {
            let children = node.children();
            let mut have: Vec<(u16, Zeroizing<[u8; 32]>)> = Vec::new();
            for (i, child) in children.iter().enumerate() {
                let mut p = path.clone();
                p.push(i as u16);
                if let Some(s) = combine_node(child, p, leaves, used)? {
                    have.push((i as u16, s));
                }
            }
            let k = node.threshold();
            if have.len() < k {
                return Ok(None);
            }
            if k == 1 {
                have.swap_remove(0).1
            } else {
                let set: Vec<VShare> = have[..k]
                    .iter()
                    .map(|(i, s)| {
                        scalar(s)
                            .map(|v| {
                                VShare::with_identifier_and_value(
                                    IdentifierPrimeField(Scalar::from(u64::from(*i) + 1)),
                                    IdentifierPrimeField(v),
                                )
                            })
                            .ok_or_else(|| internal("a share is not a scalar"))
                    })
                    .collect::<Result<_, _>>()?;
                let s = set.combine().map_err(internal)?;
                Zeroizing::new(s.0.to_repr().into())
            }
        }
    };
    used.push((path, Zeroizing::new(*secret)));
    Ok(Some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_verify_combine() {
        let p = Policy::parse("all(a, any(2, b, c, d), seq(e, f), any(1, g, h))").unwrap();
        let s = random_secret();
        let (c, shares) = split(&p, &s).unwrap();
        assert_eq!(shares.len(), 8);
        for share in shares.values() {
            assert!(c.verify(&share.path, share.value()));
            let mut bad = *share.value();
            bad[31] ^= 1;
            assert!(!c.verify(&share.path, &bad));
        }
        let root = combine(&p, &c, &shares).unwrap().unwrap();
        assert_eq!(*root, *s);
        // Without c and d, any(2, b, c, d) fails; without h, any(1, g, h) still holds.
        let mut some = shares;
        let ids = |n: &str| ArbitratorId::new(n).unwrap();
        some.remove(&ids("h"));
        assert_eq!(*combine(&p, &c, &some).unwrap().unwrap(), *s);
        some.remove(&ids("c"));
        some.remove(&ids("d"));
        assert!(combine(&p, &c, &some).unwrap().is_none());
    }

    #[test]
    fn a_batch_holds_iff_every_share_does() {
        let p = Policy::parse("all(a, any(2, b, c, d), seq(e, f), any(1, g, h))").unwrap();
        let (c, shares) = split(&p, &random_secret()).unwrap();
        let items: Vec<(&[u16], &[u8; 32])> = shares
            .values()
            .map(|l| (l.path.as_slice(), l.value()))
            .collect();
        assert!(c.verify_batch(&items));
        assert!(c.verify_batch(&[]));
        // Any one secret altered, or moved to another node: refused.
        for i in 0..items.len() {
            let mut bad = *items[i].1;
            bad[31] ^= 1;
            let mut altered = items.clone();
            altered[i].1 = &bad;
            assert!(!c.verify_batch(&altered), "share {i}");
            // (Children of a threshold-1 node share its secret.)
            let next = items[(i + 1) % items.len()].1;
            if next != items[i].1 {
                let mut moved = items.clone();
                moved[i].1 = next;
                assert!(!c.verify_batch(&moved), "share {i} moved");
            }
        }
        // Two alterations that would cancel in an unweighted sum do not.
        let (mut up, mut down) = (*items[1].1, *items[2].1);
        let one = Scalar::ONE;
        up = (scalar(&up).unwrap() + one).to_repr().into();
        down = (scalar(&down).unwrap() - one).to_repr().into();
        let mut pair = items.clone();
        pair[1].1 = &up;
        pair[2].1 = &down;
        assert!(!c.verify_batch(&pair));
        // A path with no commitments, or none at all.
        assert!(!c.verify_batch(&[(&[0, 9, 9], items[0].1)]));
        assert!(!c.verify_batch(&[(&[], items[0].1)]));
    }

    #[test]
    fn a_damaged_interpolated_node_is_named() {
        let p = Policy::parse("all(a, any(2, b, c, d))").unwrap();
        let (mut c, shares) = split(&p, &random_secret()).unwrap();
        // The any node's commitments replaced: its children still match
        // nothing, and the first failing node is named.
        let any_node: Path = vec![0, 1];
        let points = c.nodes.get_mut(&any_node).unwrap();
        points[0] = point_bytes(&(ProjectivePoint::GENERATOR * Scalar::from(7u64)));
        match combine(&p, &c, &shares) {
            Err(EscrowError::EscrowDamaged(m)) => assert!(m.contains("[0, 1, 0]"), "{m}"),
            other => panic!("{:?}", other.map(|r| r.is_some())),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Over random policies: the whole set of shares passes, and one
        /// altered share anywhere fails the batch.
        #[test]
        fn batches_agree_with_one_by_one(seed in proptest::prelude::any::<u64>(), pick in 0usize..64, bit in 0usize..256) {
            let text = random_policy(seed);
            let p = Policy::parse(&text).unwrap();
            let (c, shares) = split(&p, &random_secret()).unwrap();
            let items: Vec<(&[u16], &[u8; 32])> =
                shares.values().map(|l| (l.path.as_slice(), l.value())).collect();
            proptest::prop_assert!(c.verify_batch(&items));
            let i = pick % items.len();
            let mut bad = *items[i].1;
            bad[bit / 8] ^= 1 << (bit % 8);
            let mut altered = items.clone();
            altered[i].1 = &bad;
            proptest::prop_assert_eq!(c.verify_batch(&altered), c.verify(items[i].0, &bad));
            proptest::prop_assert!(!c.verify(items[i].0, &bad));
        }
    }

    /// A policy of nested all/seq/any nodes over up to six arbitrators.
    fn random_policy(mut seed: u64) -> String {
        fn next(seed: &mut u64, n: u64) -> u64 {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) % n
        }
        fn build(seed: &mut u64, depth: usize, names: &mut usize) -> String {
            if depth >= 2 || *names >= 6 || next(seed, 3) == 0 {
                *names += 1;
                return format!("p{names}");
            }
            let n = 1 + next(seed, 3) as usize;
            let children: Vec<String> = (0..n).map(|_| build(seed, depth + 1, names)).collect();
            match next(seed, 3) {
                0 => format!("all({})", children.join(", ")),
                1 => format!("seq({})", children.join(", ")),
                _ => format!("any({}, {})", 1 + next(seed, n as u64), children.join(", ")),
            }
        }
        build(&mut seed, 0, &mut 0)
    }

    #[test]
    fn a_single_arbitrator_policy_works() {
        let p = Policy::parse("alice").unwrap();
        let s = random_secret();
        let (c, shares) = split(&p, &s).unwrap();
        assert_eq!(*combine(&p, &c, &shares).unwrap().unwrap(), *s);
    }
}
