//! Primes shared between keys: two moduli with a common prime are both
//! factored by one gcd. The registry keeps every modulus it has ever seen;
//! this module answers "does this new modulus share a prime with any of
//! them?" ([`PrimeIndex`]) and "which pairs in this whole set share one?"
//! ([`batch_gcd`], Bernstein's product and remainder trees, as fastgcd
//! does). docs/weak-keys.md has the algorithm and its measured cost.
//!
//! Products of many moduli run to megabits and gigabits: they use dashu-int,
//! whose number-theoretic-transform multiplication was measured at 4.8× the
//! speed of num-bigint (and ibig) on 32-Mbit operands, with division 2.1×
//! faster (docs/weak-keys.md, "Choosing the big-number library").

use dashu_int::ops::{BitTest, Gcd};
use dashu_int::UBig;

use super::Fingerprint;

/// The most moduli one bucket holds (a 16-Mbit product for RSA-2048).
const MAX_BUCKET: usize = 1 << 13;

/// A modulus and its key.
#[derive(Clone)]
struct Member {
    key: Fingerprint,
    modulus: UBig,
}

/// 2^k moduli and their product.
#[derive(Clone)]
struct Bucket {
    product: UBig,
    members: Vec<Member>,
}

/// A key a modulus shares a prime with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedWith {
    /// The other key.
    pub key: Fingerprint,
    /// The size of the common factor in bits (the factor itself is not
    /// kept: it is half of two private keys).
    pub factor_bits: u64,
}

/// Every modulus seen, in buckets of 1, 2, 4, … moduli with each bucket's
/// product kept (a binary counter: an insertion merges equal-sized buckets,
/// so it costs O(log n) multiplications amortised). A query computes, per
/// bucket, the bucket's product modulo the new modulus and one gcd, and
/// opens only a bucket whose gcd is not 1.
#[derive(Clone, Default)]
pub struct PrimeIndex {
    buckets: Vec<Bucket>,
    len: usize,
}

impl PrimeIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many moduli it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a modulus (big-endian).
    pub fn insert(&mut self, key: Fingerprint, modulus: &[u8]) {
        let modulus = UBig::from_be_bytes(modulus);
        let mut carry = Bucket {
            product: modulus.clone(),
            members: vec![Member { key, modulus }],
        };
        // Merge while the last bucket is no larger than the carry, up to
        // MAX_BUCKET moduli: past that, buckets stay apart so a query can
        // spread them over the cores.
        while let Some(last) = self.buckets.last() {
            if last.members.len() > carry.members.len()
                || last.members.len() + carry.members.len() > MAX_BUCKET
            {
                break;
            }
            let Some(last) = self.buckets.pop() else {
                break;
            };
            carry.product = &last.product * &carry.product;
            let mut members = last.members;
            members.append(&mut carry.members);
            carry.members = members;
        }
        self.buckets.push(carry);
        self.len += 1;
    }

    /// The keys other than `own` whose modulus shares a factor with
    /// `modulus` (the same modulus under another exponent included: it
    /// shares both primes).
    pub fn shared_with(&self, modulus: &[u8], own: &Fingerprint) -> Vec<SharedWith> {
        let n = UBig::from_be_bytes(modulus);
        if n <= UBig::ONE {
            return Vec::new();
        }
        let per_bucket = par_map(&self.buckets, |bucket| {
            let mut out = Vec::new();
            if (&bucket.product % &n).gcd(&n) == UBig::ONE {
                return out;
            }
            for m in &bucket.members {
                if m.key == *own {
                    continue;
                }
                let g = (&m.modulus).gcd(&n);
                if g != UBig::ONE {
                    out.push(SharedWith {
                        key: m.key,
                        factor_bits: g.bit_len() as u64,
                    });
                }
            }
            out
        });
        per_bucket.into_iter().flatten().collect()
    }
}

/// Whether two moduli (big-endian) of two keys share a factor (equal moduli
/// share both): the bits of the common factor if so.
pub fn common_factor_bits(a: &[u8], b: &[u8]) -> Option<u64> {
    let (a, b) = (UBig::from_be_bytes(a), UBig::from_be_bytes(b));
    let g = a.gcd(&b);
    (g != UBig::ONE).then(|| g.bit_len() as u64)
}

/// `f` over `items`, in order, on every core: the trees' nodes of one level
/// are independent, and most of the work is in levels with many nodes.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    // Items dealt round-robin, so items of unequal cost (the index's
    // buckets, largest first) spread evenly; then put back in order.
    let mut parts: Vec<Vec<R>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    items
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(f)
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut iters: Vec<_> = parts.iter_mut().map(|p| p.drain(..)).collect();
    (0..items.len())
        .filter_map(|i| iters[i % threads].next())
        .collect()
}

/// A modulus of the batch that shares a prime with others in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFinding {
    /// Its index in the input.
    pub index: usize,
    /// The indices of the moduli it shares a factor with.
    pub shares_with: Vec<usize>,
}

/// Bernstein's batch gcd over `moduli` (big-endian, one per key: the same
/// modulus twice is two keys sharing both primes): the product tree of all
/// moduli, then the remainder tree of the product modulo each modulus
/// squared; a modulus n whose (P mod n²)/n has a gcd with n other than 1
/// shares a prime with another. Each such modulus is then paired with the
/// others it divides into, by gcds within the few that were flagged.
/// `progress` is told the fraction done, from 0 to 1.
pub fn batch_gcd(moduli: &[Vec<u8>], progress: impl FnMut(f64)) -> Vec<BatchFinding> {
    let leaves: Vec<UBig> = moduli.iter().map(|m| UBig::from_be_bytes(m)).collect();
    let (flagged, leaves) = batch_flags(leaves, progress);
    // Pair the flagged ones (few, unless the set is badly broken).
    flagged
        .iter()
        .map(|&i| BatchFinding {
            index: i,
            shares_with: flagged
                .iter()
                .copied()
                .filter(|&j| j != i)
                .filter(|&j| (&leaves[i]).gcd(&leaves[j]) != UBig::ONE)
                .collect(),
        })
        .filter(|f| !f.shares_with.is_empty())
        .collect()
}

/// The trees of [`batch_gcd`] alone: the indices of the moduli that share a
/// factor with another (or appear twice), without pairing them.
pub fn batch_gcd_flags(moduli: &[Vec<u8>], progress: impl FnMut(f64)) -> Vec<usize> {
    let leaves: Vec<UBig> = moduli.iter().map(|m| UBig::from_be_bytes(m)).collect();
    batch_flags(leaves, progress).0
}

/// The flagged indices, and the leaves given (moved back, not copied).
fn batch_flags(leaves: Vec<UBig>, mut progress: impl FnMut(f64)) -> (Vec<usize>, Vec<UBig>) {
    if leaves.len() < 2 {
        progress(1.0);
        return (Vec::new(), leaves);
    }
    // The product tree, leaves first: ⌈log2 n⌉ levels above them.
    let levels = f64::from(usize::BITS - (leaves.len() - 1).leading_zeros());
    let mut tree: Vec<Vec<UBig>> = vec![leaves];
    while tree.last().is_some_and(|level| level.len() > 1) {
        let level = tree.last().map(Vec::as_slice).unwrap_or_default();
        let pairs: Vec<&[UBig]> = level.chunks(2).collect();
        let next: Vec<UBig> = par_map(&pairs, |pair| match pair {
            [a, b] => a * b,
            [a] => a.clone(),
            _ => UBig::ONE,
        });
        tree.push(next);
        progress(0.5 * (tree.len() - 1) as f64 / levels);
    }
    // The remainder tree: each node's remainder is its parent's modulo the
    // node squared.
    let depth = tree.len();
    let mut remainders: Vec<UBig> = tree[depth - 1].clone();
    for (done, level) in tree.iter().rev().skip(1).enumerate() {
        let nodes: Vec<(usize, &UBig)> = level.iter().enumerate().collect();
        let parents = &remainders;
        remainders = par_map(&nodes, |(i, node)| &parents[i / 2] % (*node * *node));
        progress(0.5 + 0.5 * (done + 1) as f64 / (depth - 1) as f64);
    }
    let leaves = tree.swap_remove(0);
    let flagged = leaves
        .iter()
        .zip(&remainders)
        .enumerate()
        .filter(|(_, (n, r))| (*r / *n).gcd(*n) != UBig::ONE)
        .map(|(i, _)| i)
        .collect();
    (flagged, leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::test_primes::{prime, product};

    fn fp(i: u8) -> Fingerprint {
        Fingerprint::from_bytes([i; 32])
    }

    #[test]
    fn the_index_finds_a_shared_prime_among_many() {
        let shared = prime(1024);
        let a = product(&shared, &prime(1024));
        let b = product(&shared, &prime(1024));
        let mut index = PrimeIndex::new();
        for i in 0..37u8 {
            index.insert(fp(i), &product(&prime(1024), &prime(1024)));
            if i == 20 {
                index.insert(fp(200), &a);
            }
        }
        assert_eq!(index.len(), 38);
        let found = index.shared_with(&b, &fp(250));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, fp(200));
        assert_eq!(found[0].factor_bits, 1024);
        // The same key again is not a shared prime; its modulus under
        // another key (another exponent) is.
        assert!(index.shared_with(&a, &fp(200)).is_empty());
        let a_bits = num_bigint::BigUint::from_bytes_be(&a).bits();
        assert_eq!(index.shared_with(&a, &fp(251))[0].factor_bits, a_bits);
        // A modulus sharing nothing.
        assert!(index
            .shared_with(&product(&prime(1024), &prime(1024)), &fp(252))
            .is_empty());
        assert_eq!(common_factor_bits(&a, &b), Some(1024));
        assert_eq!(common_factor_bits(&a, &a), Some(a_bits));
    }

    #[test]
    fn the_batch_finds_every_pair_and_nothing_else() {
        let (s1, s2) = (prime(512), prime(512));
        let mut moduli: Vec<Vec<u8>> = (0..40).map(|_| product(&prime(512), &prime(512))).collect();
        moduli[3] = product(&s1, &prime(512));
        moduli[17] = product(&s1, &prime(512));
        moduli[25] = product(&s2, &prime(512));
        moduli[39] = product(&s2, &prime(512));
        moduli[30] = moduli[10].clone(); // one modulus under two keys
        let mut seen = 0.0;
        let found = batch_gcd(&moduli, |f| seen = f);
        assert!((seen - 1.0f64).abs() < 1e-9, "{seen}");
        let pairs: Vec<(usize, Vec<usize>)> = found
            .into_iter()
            .map(|f| (f.index, f.shares_with))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (3, vec![17]),
                (10, vec![30]),
                (17, vec![3]),
                (25, vec![39]),
                (30, vec![10]),
                (39, vec![25])
            ]
        );
    }
}
