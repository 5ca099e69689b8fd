//! The escrow policy language (third embodiment, the conditions after FIG.
//! 9): who must consent before an escrowed key is recovered.
//!
//! ```text
//! policy := name | all(policy, …) | any(k, policy, …) | seq(policy, …)
//! ```
//!
//! `all`: every child (indispensable parties); `any(k, …)`: at least k of
//! the children (a threshold); `seq`: every child, each approved after the
//! one before it was complete (an order). Names are registered arbitrators;
//! each may appear once. The canonical form prints `, ` between arguments and
//! nothing else; its SHA-256 is the policy hash an escrow is bound to.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ArbitratorId;

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// One arbitrator's approval.
    Arbitrator(ArbitratorId),
    /// Every child.
    All(Vec<Policy>),
    /// At least `k` of the children.
    Any(usize, Vec<Policy>),
    /// Every child, in this order.
    Seq(Vec<Policy>),
}

/// A policy text that does not parse, with where.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("policy error at column {column}: {message}")]
pub struct PolicyError {
    /// 1-based column of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Most children or nesting a policy may have (bounds work on hostile input).
const MAX_CHILDREN: usize = 1000;
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
    seen: BTreeSet<ArbitratorId>,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, PolicyError> {
        Err(PolicyError {
            column: self.text[..at.min(self.text.len())].chars().count() + 1,
            message: message.into(),
        })
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.text[self.at..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.at += c.len_utf8();
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn expect(&mut self, c: char) -> Result<(), PolicyError> {
        self.skip_ws();
        match self.peek() {
            Some(x) if x == c => {
                self.at += 1;
                Ok(())
            }
            Some(x) => self.err(self.at, format!("expected '{c}', found '{x}'")),
            None => self.err(self.at, format!("expected '{c}', found the end")),
        }
    }

    fn word(&mut self) -> (usize, &'a str) {
        self.skip_ws();
        let start = self.at;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                self.at += 1;
            } else {
                break;
            }
        }
        (start, &self.text[start..self.at])
    }

    fn policy(&mut self) -> Result<Policy, PolicyError> {
        let (start, word) = self.word();
        if word.is_empty() {
            return match self.peek() {
                Some(c) => self.err(
                    start,
                    format!("expected an arbitrator name, all(, any( or seq(, found '{c}'"),
                ),
                None => self.err(
                    start,
                    "expected an arbitrator name, all(, any( or seq(, found the end",
                ),
            };
        }
        self.skip_ws();
        if self.peek() != Some('(') {
            let id = match ArbitratorId::new(word) {
                Ok(id) => id,
                Err(e) => return self.err(start, e.to_string()),
            };
            if !self.seen.insert(id.clone()) {
                return self.err(start, format!("arbitrator {id} appears more than once"));
            }
            return Ok(Policy::Arbitrator(id));
        }
        if !matches!(word, "all" | "any" | "seq") {
            return self.err(
                start,
                format!("unknown combinator {word:?}: use all, any or seq"),
            );
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(start, format!("nested deeper than {MAX_DEPTH}"));
        }
        self.at += 1;
        let mut k = None;
        if word == "any" {
            let (kat, digits) = self.word();
            let n: usize = match digits.parse() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return self.err(
                        kat,
                        "any( needs a threshold k ≥ 1 first, as any(2, a, b, c)",
                    )
                }
            };
            k = Some((kat, n));
            self.expect(',')?;
        }
        let mut children = vec![self.policy()?];
        loop {
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.at += 1;
                    if children.len() >= MAX_CHILDREN {
                        return self.err(self.at, format!("more than {MAX_CHILDREN} arguments"));
                    }
                    children.push(self.policy()?);
                }
                Some(')') => {
                    self.at += 1;
                    break;
                }
                Some(c) => return self.err(self.at, format!("expected ',' or ')', found '{c}'")),
                None => return self.err(self.at, format!("{word}( is not closed")),
            }
        }
        self.depth -= 1;
        Ok(match (word, k) {
            ("all", _) => Policy::All(children),
            ("seq", _) => Policy::Seq(children),
            (_, k) => {
                let (kat, n) = k.unwrap_or((start, 1));
                if n > children.len() {
                    return self.err(
                        kat,
                        format!("any({n}, …) has only {} choices", children.len()),
                    );
                }
                Policy::Any(n, children)
            }
        })
    }
}

impl Policy {
    /// Parses a policy text.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut p = Parser {
            text,
            at: 0,
            depth: 0,
            seen: BTreeSet::new(),
        };
        let policy = p.policy()?;
        p.skip_ws();
        if p.at < text.len() {
            return p.err(p.at, "unexpected text after the policy");
        }
        Ok(policy)
    }

    /// Every arbitrator, in order of appearance.
    pub fn arbitrators(&self) -> Vec<&ArbitratorId> {
        let mut out = Vec::new();
        self.walk(&mut |p| {
            if let Policy::Arbitrator(a) = p {
                out.push(a);
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Policy)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }

    /// The children of a combinator; an arbitrator has none.
    pub fn children(&self) -> &[Policy] {
        match self {
            Policy::Arbitrator(_) => &[],
            Policy::All(c) | Policy::Any(_, c) | Policy::Seq(c) => c,
        }
    }

    /// How many children must hold for this node to hold.
    pub fn threshold(&self) -> usize {
        match self {
            Policy::Arbitrator(_) => 1,
            Policy::All(c) | Policy::Seq(c) => c.len(),
            Policy::Any(k, _) => *k,
        }
    }

    /// The canonical text.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// SHA-256 of the canonical text.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = [0u8; 32];
        h.copy_from_slice(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.canonical().as_bytes())
                .as_ref(),
        );
        h
    }

    /// The minimal sets of arbitrators whose approvals satisfy the policy
    /// (in a suitable order), at most `limit` of them; `None` when there are
    /// more than `limit`.
    pub fn minimal_sets(&self, limit: usize) -> Option<Vec<BTreeSet<ArbitratorId>>> {
        let sets = self.sets(limit)?;
        // Keep only sets with no proper subset in the list.
        let mut minimal: Vec<BTreeSet<ArbitratorId>> = Vec::new();
        for s in &sets {
            if !sets.iter().any(|o| o != s && o.is_subset(s)) && !minimal.contains(s) {
                minimal.push(s.clone());
            }
        }
        minimal.sort();
        Some(minimal)
    }

    fn sets(&self, limit: usize) -> Option<Vec<BTreeSet<ArbitratorId>>> {
        match self {
            Policy::Arbitrator(a) => Some(vec![BTreeSet::from([a.clone()])]),
            Policy::All(c) | Policy::Seq(c) => product(c, limit),
            Policy::Any(k, c) => {
                let mut out = Vec::new();
                for combo in combinations(c.len(), *k, limit)? {
                    let chosen: Vec<Policy> = combo.iter().map(|&i| c[i].clone()).collect();
                    out.extend(product(&chosen, limit)?);
                    if out.len() > limit {
                        return None;
                    }
                }
                Some(out)
            }
        }
    }

    /// Decides the policy over approvals in the order they were given
    /// (`approvals[i]` approved at position i; an arbitrator listed twice
    /// counts at its first position).
    pub fn evaluate(&self, approvals: &[ArbitratorId]) -> Evaluation {
        Evaluation {
            end: self.end(approvals, 0),
        }
    }

    /// The earliest position at which this node holds using only approvals
    /// at positions ≥ `from`. `seq` starts each child after the previous
    /// one completed, so an approval given too early does not count.
    fn end(&self, approvals: &[ArbitratorId], from: usize) -> Option<usize> {
        match self {
            Policy::Arbitrator(a) => approvals.iter().position(|x| x == a).filter(|&i| i >= from),
            Policy::All(c) => c
                .iter()
                .map(|p| p.end(approvals, from))
                .try_fold(from, |m, e| Some(m.max(e?))),
            Policy::Any(k, c) => {
                let mut ends: Vec<usize> =
                    c.iter().filter_map(|p| p.end(approvals, from)).collect();
                ends.sort_unstable();
                ends.get(k - 1).copied()
            }
            Policy::Seq(c) => {
                let mut next = from;
                let mut end = from;
                for p in c {
                    end = p.end(approvals, next)?;
                    next = end + 1;
                }
                Some(end)
            }
        }
    }

    /// The arbitrators whose approval, appended to `approvals` now, would
    /// count: inside a `seq` only the first child that does not hold yet is
    /// open, and nothing inside a node that already holds. An approval from
    /// anyone else is out of turn (or not needed) and must be refused before
    /// it uses up that arbitrator's one decision.
    pub fn may_act(&self, approvals: &[ArbitratorId]) -> Vec<ArbitratorId> {
        let mut out = Vec::new();
        self.open(approvals, 0, &mut out);
        out.dedup();
        out
    }

    fn open(&self, approvals: &[ArbitratorId], from: usize, out: &mut Vec<ArbitratorId>) {
        if self.end(approvals, from).is_some() {
            return;
        }
        match self {
            Policy::Arbitrator(a) => {
                if !approvals.contains(a) && !out.contains(a) {
                    out.push(a.clone());
                }
            }
            Policy::All(c) | Policy::Any(_, c) => {
                for p in c {
                    p.open(approvals, from, out);
                }
            }
            Policy::Seq(c) => {
                let mut next = from;
                for p in c {
                    match p.end(approvals, next) {
                        Some(end) => next = end + 1,
                        None => {
                            p.open(approvals, next, out);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The tree for display, with each node's state under `approvals`. A
    /// node inside a `seq` is judged only by approvals given after the
    /// children before it held, as [`Policy::evaluate`] judges it, so an
    /// approval that came too early is shown as not counting.
    pub fn status_tree(&self, approvals: &[ArbitratorId]) -> StatusNode {
        self.status_from(approvals, 0)
    }

    fn status_from(&self, approvals: &[ArbitratorId], from: usize) -> StatusNode {
        let children = match self {
            Policy::Arbitrator(_) => Vec::new(),
            Policy::All(c) | Policy::Any(_, c) => {
                c.iter().map(|p| p.status_from(approvals, from)).collect()
            }
            Policy::Seq(c) => {
                // Each child starts after the one before it held; children
                // after one that does not hold are judged from the end.
                let mut next = Some(from);
                c.iter()
                    .map(|p| {
                        let start = next.unwrap_or(approvals.len());
                        let node = p.status_from(approvals, start);
                        next = next.and_then(|n| p.end(approvals, n)).map(|e| e + 1);
                        node
                    })
                    .collect()
            }
        };
        StatusNode {
            node: match self {
                Policy::Arbitrator(a) => a.to_string(),
                Policy::All(_) => "all".into(),
                Policy::Any(k, _) => format!("any {k}"),
                Policy::Seq(_) => "seq".into(),
            },
            holds: self.end(approvals, from).is_some(),
            approved_at: match self {
                Policy::Arbitrator(a) => {
                    approvals.iter().position(|x| x == a).filter(|&i| i >= from)
                }
                _ => None,
            },
            children,
        }
    }
}

/// Cartesian union of the children's sets.
fn product(children: &[Policy], limit: usize) -> Option<Vec<BTreeSet<ArbitratorId>>> {
    let mut acc = vec![BTreeSet::new()];
    for c in children {
        let sets = c.sets(limit)?;
        let mut next = Vec::new();
        for a in &acc {
            for s in &sets {
                next.push(a.union(s).cloned().collect());
                if next.len() > limit {
                    return None;
                }
            }
        }
        acc = next;
    }
    Some(acc)
}

/// k-subsets of 0..n, at most `limit`.
fn combinations(n: usize, k: usize, limit: usize) -> Option<Vec<Vec<usize>>> {
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        out.push(idx.clone());
        if out.len() > limit {
            return None;
        }
        let mut i = k;
        loop {
            if i == 0 {
                return Some(out);
            }
            i -= 1;
            if idx[i] < n - k + i {
                idx[i] += 1;
                for j in i + 1..k {
                    idx[j] = idx[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// Whether approvals satisfy a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    end: Option<usize>,
}

impl Evaluation {
    /// The policy holds.
    pub fn satisfied(&self) -> bool {
        self.end.is_some()
    }
}

/// A node of the status tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusNode {
    /// The arbitrator, or the combinator.
    pub node: String,
    /// Whether this node holds.
    pub holds: bool,
    /// For an arbitrator: its position in the approval chain, if it approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<usize>,
    /// Children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<StatusNode>,
}

impl StatusNode {
    /// Indented text, one node per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(0, &mut out);
        out
    }

    fn render_into(&self, depth: usize, out: &mut String) {
        let mark = if self.holds { "✓" } else { "·" };
        let at = self
            .approved_at
            .map(|i| format!(" (approval #{})", i + 1))
            .unwrap_or_default();
        out.push_str(&format!("{}{mark} {}{at}\n", "  ".repeat(depth), self.node));
        for c in &self.children {
            c.render_into(depth + 1, out);
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, c: &[Policy]| -> fmt::Result {
            for (i, p) in c.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        match self {
            Policy::Arbitrator(a) => write!(f, "{a}"),
            Policy::All(c) => {
                f.write_str("all(")?;
                list(f, c)
            }
            Policy::Any(k, c) => {
                write!(f, "any({k}, ")?;
                list(f, c)
            }
            Policy::Seq(c) => {
                f.write_str("seq(")?;
                list(f, c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIG. 9: the user indispensable and first, the card company, any one
    /// of the service providers, any two of the device-issuer managers, the
    /// recorder last.
    pub(crate) const FIG9: &str =
        "seq(user, all(card-company, any(1, provider-a, provider-b, provider-c), any(2, manager-a, manager-b, manager-c)), recorder)";

    fn ids(names: &[&str]) -> Vec<ArbitratorId> {
        names
            .iter()
            .map(|n| ArbitratorId::new(n).unwrap())
            .collect()
    }

    #[test]
    fn fig9_parses_prints_and_decides() {
        let p = Policy::parse(&FIG9.replace(", ", " ,\n  ")).unwrap();
        assert_eq!(p.canonical(), FIG9);
        assert_eq!(Policy::parse(&p.canonical()).unwrap(), p);
        let sets = p.minimal_sets(1000).unwrap();
        assert_eq!(sets.len(), 3 * 3);
        assert!(sets.iter().all(|s| s.len() == 6));
        let good = ids(&[
            "user",
            "manager-b",
            "card-company",
            "provider-c",
            "manager-a",
            "recorder",
        ]);
        assert!(p.evaluate(&good).satisfied());
        // The recorder before the others, the user not first, one manager short.
        for bad in [
            ids(&[
                "user",
                "recorder",
                "manager-b",
                "card-company",
                "provider-c",
                "manager-a",
            ]),
            ids(&[
                "card-company",
                "user",
                "provider-c",
                "manager-a",
                "manager-b",
                "recorder",
            ]),
            ids(&[
                "user",
                "card-company",
                "provider-c",
                "manager-a",
                "recorder",
            ]),
        ] {
            assert!(!p.evaluate(&bad).satisfied(), "{bad:?}");
        }
    }

    #[test]
    fn errors_point_at_the_column() {
        for (text, column, needle) in [
            ("all(a, b", 9, "not closed"),
            ("any(3, a, b)", 5, "only 2 choices"),
            ("any(a, b)", 5, "threshold"),
            ("most(a, b)", 1, "unknown combinator"),
            ("all(a, b) c", 11, "after the policy"),
            ("all(a, , b)", 8, "arbitrator name"),
            ("all(a, a)", 8, "more than once"),
            ("all(a; b)", 6, "expected ','"),
            ("", 1, "found the end"),
        ] {
            let e = Policy::parse(text).unwrap_err();
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }
}
