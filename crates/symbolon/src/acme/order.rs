//! The states of ACME's objects (RFC 8555 §7.1.6) and their moves: a
//! challenge is tried once; its authorization is valid when one of its
//! challenges passed, invalid when one failed; an order is ready when all
//! its authorizations are valid, and invalid when one is not and cannot be.

use serde::Serialize;

use super::challenge::ChallengeType;
use super::problem::{Problem, ProblemType};
use crate::x509::DnsName;

/// An object's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for the client.
    Pending,
    /// Every authorization valid: the order may be finalized.
    Ready,
    /// Being validated or issued.
    Processing,
    /// Done.
    Valid,
    /// Failed for good.
    Invalid,
    /// Out of time.
    Expired,
    /// Given up by the client.
    Deactivated,
}

/// One challenge of an authorization.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// Its type.
    pub kind: ChallengeType,
    /// Its token: 128 random bits, base64url.
    pub token: String,
    /// Its status.
    pub status: Status,
    /// When it passed (Unix seconds).
    pub validated: Option<i64>,
    /// Why it failed.
    pub error: Option<Problem>,
}

/// The proof of control of one name.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The name.
    pub identifier: DnsName,
    /// Until when it can be used (Unix seconds).
    pub expires: i64,
    status: Status,
    /// Its challenges, one per type offered.
    pub challenges: Vec<Challenge>,
}

impl Authorization {
    /// A pending authorization for `identifier`, a challenge of each type
    /// with its token.
    pub fn new(identifier: DnsName, expires: i64, tokens: Vec<(ChallengeType, String)>) -> Self {
        Self {
            identifier,
            expires,
            status: Status::Pending,
            challenges: tokens
                .into_iter()
                .map(|(kind, token)| Challenge {
                    kind,
                    token,
                    status: Status::Pending,
                    validated: None,
                    error: None,
                })
                .collect(),
        }
    }

    /// Its status at `now`.
    pub fn status(&self, now: i64) -> Status {
        match self.status {
            Status::Pending | Status::Valid if now >= self.expires => Status::Expired,
            s => s,
        }
    }

    /// Starts the challenge of `kind`: its token, to be checked. Only a
    /// pending challenge of a pending authorization starts (RFC 8555
    /// §7.5.1); a started one is reported as it stands.
    pub fn start(&mut self, kind: ChallengeType, now: i64) -> Result<Option<String>, Problem> {
        let status = self.status(now);
        let running = self
            .challenges
            .iter()
            .any(|c| c.status == Status::Processing);
        let Some(c) = self.challenges.iter_mut().find(|c| c.kind == kind) else {
            return Err(super::problem::malformed("no such challenge"));
        };
        if status != Status::Pending {
            return match c.status {
                // A retry of a challenge already tried: its state stands.
                Status::Processing | Status::Valid | Status::Invalid => Ok(None),
                _ => Err(Problem::new(
                    ProblemType::Malformed,
                    format!("the authorization is {status:?}, not pending").to_lowercase(),
                )),
            };
        }
        if c.status != Status::Pending {
            return Ok(None);
        }
        // One challenge at a time: a second type would let one failure
        // and one success race for the verdict.
        if running {
            return Err(super::problem::malformed(
                "another challenge of this authorization is being validated; wait for its verdict",
            ));
        }
        c.status = Status::Processing;
        Ok(Some(c.token.clone()))
    }

    /// Records the outcome of the challenge of `kind`. A verdict changes
    /// the authorization only while it is pending: one deactivated or
    /// expired meanwhile stays so (its states are final, RFC 8555
    /// §7.1.6).
    pub fn finish(&mut self, kind: ChallengeType, outcome: Result<(), Problem>, now: i64) {
        let pending = self.status(now) == Status::Pending;
        let Some(c) = self.challenges.iter_mut().find(|c| c.kind == kind) else {
            return;
        };
        if c.status != Status::Processing {
            return;
        }
        if !pending {
            c.status = Status::Invalid;
            c.error = Some(Problem::new(
                ProblemType::Malformed,
                "the authorization was deactivated or expired while this challenge was validated",
            ));
            return;
        }
        match outcome {
            Ok(()) => {
                c.status = Status::Valid;
                c.validated = Some(now);
                self.status = Status::Valid;
            }
            Err(p) => {
                c.status = Status::Invalid;
                c.error = Some(p);
                self.status = Status::Invalid;
            }
        }
    }

    /// Gives the authorization up (RFC 8555 §7.5.2).
    pub fn deactivate(&mut self, now: i64) -> Result<(), Problem> {
        match self.status(now) {
            Status::Pending | Status::Valid => {
                self.status = Status::Deactivated;
                Ok(())
            }
            s => Err(super::problem::malformed(format!(
                "the authorization is {}, it cannot be deactivated",
                format!("{s:?}").to_lowercase()
            ))),
        }
    }
}

/// An order's status from its authorizations' (while it has no
/// certificate and no failure of its own).
pub fn order_status(authorizations: &[Status], expires: i64, now: i64) -> Status {
    if now >= expires {
        return Status::Expired;
    }
    if authorizations
        .iter()
        .any(|s| matches!(s, Status::Invalid | Status::Deactivated | Status::Expired))
    {
        return Status::Invalid;
    }
    if authorizations.iter().all(|s| *s == Status::Valid) {
        Status::Ready
    } else {
        Status::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authz() -> Authorization {
        Authorization::new(
            "a.example".parse().unwrap(),
            100,
            vec![
                (ChallengeType::Http01, "t1".into()),
                (ChallengeType::TlsAlpn01, "t2".into()),
            ],
        )
    }

    #[test]
    fn one_passed_challenge_makes_it_valid_and_a_second_try_changes_nothing() {
        let mut a = authz();
        assert_eq!(
            a.start(ChallengeType::Http01, 1).unwrap().as_deref(),
            Some("t1")
        );
        // Asked again while it runs: no second validation.
        assert_eq!(a.start(ChallengeType::Http01, 1).unwrap(), None);
        a.finish(ChallengeType::Http01, Ok(()), 2);
        assert_eq!(a.status(3), Status::Valid);
        assert_eq!(
            a.start(ChallengeType::TlsAlpn01, 3).unwrap_err().status,
            400
        );
        assert_eq!(a.status(100), Status::Expired);
    }

    #[test]
    fn a_failed_challenge_makes_the_order_invalid() {
        let mut a = authz();
        a.start(ChallengeType::TlsAlpn01, 1).unwrap();
        a.finish(
            ChallengeType::TlsAlpn01,
            Err(Problem::new(ProblemType::Connection, "refused")),
            2,
        );
        assert_eq!(a.status(3), Status::Invalid);
        assert_eq!(
            order_status(&[Status::Valid, a.status(3)], 50, 3),
            Status::Invalid
        );
        assert_eq!(
            order_status(&[Status::Valid, Status::Valid], 50, 3),
            Status::Ready
        );
        assert_eq!(
            order_status(&[Status::Valid, Status::Pending], 50, 3),
            Status::Pending
        );
        assert_eq!(order_status(&[Status::Valid], 50, 50), Status::Expired);
        // One challenge at a time; a verdict after deactivation changes
        // nothing.
        let mut c = authz();
        c.start(ChallengeType::Http01, 1).unwrap();
        assert!(c.start(ChallengeType::TlsAlpn01, 1).is_err());
        c.deactivate(1).unwrap();
        c.finish(ChallengeType::Http01, Ok(()), 2);
        assert_eq!(c.status(2), Status::Deactivated);
        // A finish for a challenge not started is ignored.
        let mut b = authz();
        b.finish(ChallengeType::Http01, Ok(()), 1);
        assert_eq!(b.status(1), Status::Pending);
        b.deactivate(1).unwrap();
        assert_eq!(b.status(1), Status::Deactivated);
        assert!(b.deactivate(1).is_err());
    }
}
