//! The log's Merkle tree (RFC 9162 §2.1): leaf and interior hashes with
//! their domain-separating prefixes, the tree head of any size, inclusion
//! and consistency proofs, and their verification — all pure, over a
//! [`NodeStore`] of the tree's complete subtrees (docs/transparency.md).
//!
//! A complete subtree is the hash of `2^level` leaves starting at a
//! multiple of `2^level`: node `(level, index)` covers leaves
//! `[index·2^level, (index+1)·2^level)`. Appending a leaf stores its hash
//! and the complete subtrees it closes, at most `log2(n) + 1` nodes, so
//! appends stay O(log n); every hash a head or a proof needs is one of
//! them or is combined from O(log n) of them, because every left subtree
//! in RFC 9162's recursion is complete and aligned.

use aws_lc_rs::digest;

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// The head of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    sha256(&[b""])
}

/// A leaf's hash: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

/// An interior node's hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Where the complete subtrees live (the registry, or memory).
pub trait NodeStore {
    /// Why a node could not be read.
    type Error;
    /// Node `(level, index)`; level 0 are the leaf hashes.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// A proof or head asked of the tree that it cannot give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError<E> {
    /// The store failed.
    #[error("the tree's store failed: {0}")]
    Store(E),
    /// An index or size beyond the tree, or sizes out of order.
    #[error("{0}")]
    OutOfRange(String),
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The indices or sizes cannot be proven (index ≥ size, old > new…).
    #[error("{0}")]
    Impossible(String),
    /// The proof has the wrong number of hashes for its sizes.
    #[error("the proof has {got} hashes; these sizes need {want}")]
    WrongLength {
        /// How many it has.
        got: usize,
        /// How many the sizes need.
        want: usize,
    },
    /// The hashes do not lead to the tree head.
    #[error("the proof does not lead to the tree head {0}")]
    Mismatch(&'static str),
}

/// The nodes to store when the leaf with `hash` is appended to a tree of
/// `size` leaves: the leaf itself, then each complete subtree it closes.
pub fn append<S: NodeStore>(
    store: &S,
    size: u64,
    hash: Hash,
) -> Result<Vec<(u32, u64, Hash)>, S::Error> {
    let mut out = vec![(0u32, size, hash)];
    let (mut level, mut index, mut current) = (0u32, size, hash);
    // A node closes its parent when it is a right child (odd index).
    while index & 1 == 1 {
        let left = store.node(level, index - 1)?;
        current = node_hash(&left, &current);
        level += 1;
        index >>= 1;
        out.push((level, index, current));
    }
    Ok(out)
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[start:end]) for a range whose left parts are complete and
/// aligned (every range RFC 9162's recursion visits is).
fn subtree<S: NodeStore>(store: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() && start % n == 0 {
        return store.node(n.trailing_zeros(), start >> n.trailing_zeros());
    }
    let k = split(n);
    let left = subtree(store, start, start + k)?;
    let right = subtree(store, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The tree head of the first `size` leaves.
pub fn root<S: NodeStore>(store: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree(store, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves
/// (RFC 9162 §2.1.3.1), leaf side first.
pub fn inclusion_proof<S: NodeStore>(
    store: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError<S::Error>> {
    if index >= size {
        return Err(TreeError::OutOfRange(format!(
            "entry {index} is not in a tree of {size} entries"
        )));
    }
    let mut path = Vec::new();
    path_into(store, index, 0, size, &mut path).map_err(TreeError::Store)?;
    Ok(path)
}

fn path_into<S: NodeStore>(
    store: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path_into(store, m, start, start + k, out)?;
        out.push(subtree(store, start + k, end)?);
    } else {
        path_into(store, m - k, start + k, end, out)?;
        out.push(subtree(store, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of `old` and `new` leaves
/// (RFC 9162 §2.1.4.1). Empty when `old` is 0 or equals `new`.
pub fn consistency_proof<S: NodeStore>(
    store: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, TreeError<S::Error>> {
    if old > new {
        return Err(TreeError::OutOfRange(format!(
            "a tree of {old} entries is not a prefix of one of {new}"
        )));
    }
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof_into(store, old, 0, new, true, &mut out).map_err(TreeError::Store)?;
    }
    Ok(out)
}

fn subproof_into<S: NodeStore>(
    store: &S,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(subtree(store, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof_into(store, m, start, start + k, complete, out)?;
        out.push(subtree(store, start + k, end)?);
    } else {
        subproof_into(store, m - k, start + k, end, false, out)?;
        out.push(subtree(store, start, start + k)?);
    }
    Ok(())
}

/// Verifies that `leaf` is entry `index` of the tree of `size` entries
/// whose head is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Impossible(format!(
            "entry {index} cannot be in a tree of {size} entries"
        )));
    }
    let want = inclusion_len(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want,
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: inclusion_len(index, size),
        });
    }
    if &r != root {
        return Err(ProofError::Mismatch("of the checkpoint"));
    }
    Ok(())
}

/// How many hashes the inclusion proof of `index` in `size` has: one per
/// level of RFC 9162's recursion, so at most ⌈log2 size⌉.
pub fn inclusion_len(index: u64, size: u64) -> usize {
    if size <= 1 || index >= size {
        return 0;
    }
    let k = split(size);
    1 + if index < k {
        inclusion_len(index, k)
    } else {
        inclusion_len(index - k, size - k)
    }
}

/// How many hashes the consistency proof from `old` to `new` has.
pub fn consistency_len(old: u64, new: u64) -> usize {
    fn sub(m: u64, n: u64, complete: bool) -> usize {
        if m == n {
            return usize::from(!complete);
        }
        let k = split(n);
        1 + if m <= k {
            sub(m, k, complete)
        } else {
            sub(m - k, n - k, false)
        }
    }
    if old == 0 || old >= new {
        return 0;
    }
    sub(old, new, true)
}

/// Verifies that the tree of `new` entries with head `new_root` extends
/// the tree of `old` entries with head `old_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::Impossible(format!(
            "a tree of {old} entries cannot be a prefix of one of {new}"
        )));
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch(
                "of the same size: the two heads differ",
            ))
        };
    }
    if old == 0 {
        // Every tree extends the empty one; a proof is empty.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            })
        };
    }
    let want = consistency_len(old, new);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    // RFC 9162 §2.1.4.2: when old is a power of two, the old head is the
    // proof's implicit first element.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    };
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want,
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    if &fr != old_root {
        return Err(ProofError::Mismatch("of the older checkpoint"));
    }
    if &sr != new_root {
        return Err(ProofError::Mismatch("of the newer checkpoint"));
    }
    Ok(())
}

/// A store that answers every read with a zero hash and records which
/// nodes were read. Which nodes the tree functions visit depends only on
/// the indices and sizes asked, never on the hashes, so a store that must
/// fetch nodes (the registry, over the network) runs a computation once
/// over a recorder, fetches those nodes together, and runs it again.
#[derive(Debug, Default)]
pub struct NodeRecorder {
    read: std::cell::RefCell<std::collections::BTreeSet<(u32, u64)>>,
}

impl NodeRecorder {
    /// The nodes read, `(level, index)`, in order.
    pub fn into_keys(self) -> Vec<(u32, u64)> {
        self.read.into_inner().into_iter().collect()
    }
}

impl NodeStore for NodeRecorder {
    type Error = std::convert::Infallible;
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        self.read.borrow_mut().insert((level, index));
        Ok([0; 32])
    }
}

/// A node a [`MemoryTree`] was asked for but does not hold: the size or
/// index asked of it lies beyond its leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree holds no node at level {level}, index {index}")]
pub struct MissingNode {
    /// The node's level (0 for leaves).
    pub level: u32,
    /// Its index within the level.
    pub index: u64,
}

/// A tree in memory: for tests, the verifier's own checks and the
/// synthetic size measurements.
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leaves it holds.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash. It cannot fail on a tree built only by `push`
    /// (every left sibling it needs was stored before); the error is kept
    /// so a corrupted tree is reported, not a panic.
    pub fn push(&mut self, leaf: Hash) -> Result<(), MissingNode> {
        let size = self.size();
        let nodes = append(self, size, leaf)?;
        for (level, index, hash) in nodes {
            let level = level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            debug_assert_eq!(self.levels[level].len() as u64, index);
            self.levels[level].push(hash);
        }
        Ok(())
    }
}

impl NodeStore for MemoryTree {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(level as usize)?.get(i))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's reference leaves and tree heads for sizes 0 … 8, as the
    /// Certificate Transparency implementations test them
    /// (tests/data/merkle/README.md cites the source).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(&i.to_be_bytes())).unwrap();
        }
        t
    }

    #[test]
    fn reference_heads() {
        let mut t = MemoryTree::new();
        assert_eq!(hex::encode(root(&t, 0).unwrap()), ROOTS[0]);
        for (i, leaf) in LEAVES.iter().enumerate() {
            t.push(leaf_hash(&hex::decode(leaf).unwrap())).unwrap();
            for size in 0..=t.size() {
                assert_eq!(
                    hex::encode(root(&t, size).unwrap()),
                    ROOTS[size as usize],
                    "size {size} after {i}"
                );
            }
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_and_nothing_else() {
        let t = tree(70);
        for size in 1..=t.size() {
            let head = root(&t, size).unwrap();
            for index in 0..size {
                let leaf = t.node(0, index).unwrap();
                let proof = inclusion_proof(&t, index, size).unwrap();
                assert_eq!(proof.len(), inclusion_len(index, size));
                assert!(proof.len() <= 64 - (size - 1).leading_zeros() as usize);
                verify_inclusion(index, size, &leaf, &proof, &head).unwrap();
                // Another index, a flipped bit, an added hash: refused.
                // (The size is bound by the signed checkpoint, not by the
                // proof: leaf 0's path in a tree of 6 also has the shape
                // of one in a tree of 7.)
                if size > 1 {
                    assert!(
                        verify_inclusion((index + 1) % size, size, &leaf, &proof, &head).is_err()
                    );
                }
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][i % 32] ^= 1;
                    assert!(verify_inclusion(index, size, &leaf, &bad, &head).is_err());
                }
                let mut longer = proof.clone();
                longer.push(head);
                assert!(matches!(
                    verify_inclusion(index, size, &leaf, &longer, &head),
                    Err(ProofError::WrongLength { .. })
                ));
            }
        }
        for new in 0..=t.size().min(40) {
            let new_head = root(&t, new).unwrap();
            for old in 0..=new {
                let old_head = root(&t, old).unwrap();
                let proof = consistency_proof(&t, old, new).unwrap();
                assert_eq!(proof.len(), consistency_len(old, new), "{old} → {new}");
                verify_consistency(old, new, &old_head, &new_head, &proof).unwrap();
                if old > 0 && old < new {
                    let other = root(&t, old - 1).unwrap();
                    assert!(verify_consistency(old, new, &other, &new_head, &proof).is_err());
                    assert!(verify_consistency(old, new, &old_head, &other, &proof).is_err());
                    for i in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[i][0] ^= 0x80;
                        assert!(verify_consistency(old, new, &old_head, &new_head, &bad).is_err());
                    }
                    assert!(verify_consistency(old, new, &old_head, &new_head, &[]).is_err());
                }
            }
        }
        assert!(inclusion_proof(&t, 70, 70).is_err());
        assert!(consistency_proof(&t, 5, 4).is_err());
    }

    #[test]
    fn sizes_beyond_the_tree_are_errors_not_panics() {
        let t = tree(70);
        assert!(matches!(root(&t, 71), Err(MissingNode { .. })));
        assert!(matches!(
            inclusion_proof(&t, 0, 100),
            Err(TreeError::Store(MissingNode { .. }))
        ));
        assert!(matches!(
            consistency_proof(&t, 3, 100),
            Err(TreeError::Store(MissingNode { .. }))
        ));
        assert!(t.node(0, u64::MAX).is_err());
        assert!(t.node(40, 0).is_err());
    }

    #[test]
    fn a_forked_log_is_caught_by_consistency() {
        // Two logs agree on 10 entries, then differ: no proof from one's
        // head at 10 reaches the other's head at 20.
        let (mut a, mut b) = (tree(10), tree(10));
        for i in 10..20u64 {
            a.push(leaf_hash(&i.to_be_bytes())).unwrap();
            b.push(leaf_hash(&(i + 1000).to_be_bytes())).unwrap();
        }
        let (old, a20, b20) = (
            root(&a, 10).unwrap(),
            root(&a, 20).unwrap(),
            root(&b, 20).unwrap(),
        );
        let proof = consistency_proof(&a, 10, 20).unwrap();
        verify_consistency(10, 20, &old, &a20, &proof).unwrap();
        assert!(verify_consistency(10, 20, &old, &b20, &proof).is_err());
    }

    /// Proofs are O(log n): at 10^3 and 10^6 entries (synthetic leaves),
    /// inclusion proofs hold at most ⌈log2 n⌉ hashes and consistency
    /// proofs at most 2·⌈log2 n⌉, and they verify.
    #[test]
    fn proofs_are_logarithmic_at_a_thousand_and_a_million() {
        let big = tree(1_000_000);
        for n in [1_000u64, 1_000_000] {
            let bound = 64 - (n - 1).leading_zeros() as usize;
            let head = root(&big, n).unwrap();
            for index in [0, 1, n / 3, n / 2 + 1, n - 2, n - 1] {
                let proof = inclusion_proof(&big, index, n).unwrap();
                assert!(proof.len() <= bound, "{n}: {} > {bound}", proof.len());
                verify_inclusion(index, n, &big.node(0, index).unwrap(), &proof, &head).unwrap();
            }
            for old in [1, 7, n / 2, n - 1] {
                let proof = consistency_proof(&big, old, n).unwrap();
                assert!(proof.len() <= 2 * bound, "{old}→{n}: {}", proof.len());
                verify_consistency(old, n, &root(&big, old).unwrap(), &head, &proof).unwrap();
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Arbitrary proofs never verify by accident, never panic.
        #[test]
        fn arbitrary_proofs_are_refused(index in 0u64..300, size in 0u64..300, old in 0u64..300,
                                        hashes in proptest::collection::vec(proptest::array::uniform32(0u8..), 0..12)) {
            let t = tree(300);
            let head = root(&t, size).unwrap();
            let leaf = leaf_hash(b"not in the log");
            proptest::prop_assert!(verify_inclusion(index, size, &leaf, &hashes, &head).is_err());
            let old_head = root(&t, old.min(size)).unwrap();
            let r = verify_consistency(old, size, &old_head, &leaf, &hashes);
            proptest::prop_assert!(r.is_err() || (old == 0 && hashes.is_empty()));
        }
    }
}
