//! Per-caller and per-address rate limits: a token bucket each, refilled
//! continuously. A caller over its limit gets 429 with `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use symbolon_store::CertificateSerial;

/// Whose bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// An authenticated credential.
    Credential(CertificateSerial),
    /// An anonymous caller's address.
    Address(IpAddr),
}

/// A limit: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Requests per second, sustained.
    pub per_second: f64,
    /// Requests allowed at once after a quiet spell.
    pub burst: f64,
}

/// Most buckets kept; past it, full (idle) buckets are dropped.
const MAX_BUCKETS: usize = 65_536;

/// A bucket's tokens, when they were counted, and whether its current
/// streak of refusals was reported.
#[derive(Debug, Clone, Copy)]
struct State {
    tokens: f64,
    at: Instant,
    reported: bool,
}

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    credential: Limit,
    anonymous: Limit,
    buckets: Mutex<HashMap<Bucket, State>>,
}

impl RateLimiter {
    /// Limits for credentials and for anonymous addresses.
    pub fn new(credential: Limit, anonymous: Limit) -> Self {
        Self {
            credential,
            anonymous,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `bucket`'s allowance; `Err((seconds, first))`
    /// says how long until the next is allowed, and whether this is the
    /// first refusal since the bucket last admitted one (to report once).
    pub fn take(&self, bucket: Bucket) -> Result<(), (u64, bool)> {
        let limit = match bucket {
            Bucket::Credential(_) => self.credential,
            Bucket::Address(_) => self.anonymous,
        };
        let now = Instant::now();
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_BUCKETS {
            map.retain(|b, st| {
                let l = match b {
                    Bucket::Credential(_) => self.credential,
                    Bucket::Address(_) => self.anonymous,
                };
                st.tokens + now.duration_since(st.at).as_secs_f64() * l.per_second < l.burst
            });
        }
        let st = map.entry(bucket).or_insert(State {
            tokens: limit.burst,
            at: now,
            reported: false,
        });
        let refilled = (st.tokens + now.duration_since(st.at).as_secs_f64() * limit.per_second)
            .min(limit.burst);
        st.at = now;
        if refilled >= 1.0 {
            st.tokens = refilled - 1.0;
            st.reported = false;
            Ok(())
        } else {
            st.tokens = refilled;
            let first = !st.reported;
            st.reported = true;
            Err((
                ((1.0 - refilled) / limit.per_second).ceil().max(1.0) as u64,
                first,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusal_with_a_retry_time() {
        let l = RateLimiter::new(
            Limit {
                per_second: 1.0,
                burst: 3.0,
            },
            Limit {
                per_second: 0.5,
                burst: 1.0,
            },
        );
        let ip = Bucket::Address(IpAddr::from([10, 0, 0, 1]));
        assert!(l.take(ip.clone()).is_ok());
        let (wait, first) = l.take(ip.clone()).unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(first);
        assert!(
            !l.take(ip.clone()).unwrap_err().1,
            "reported once per streak"
        );
        // Another address has its own bucket.
        assert!(l.take(Bucket::Address(IpAddr::from([10, 0, 0, 2]))).is_ok());
        let c = Bucket::Credential("0a".parse().unwrap());
        for _ in 0..3 {
            assert!(l.take(c.clone()).is_ok());
        }
        assert!(l.take(c).is_err());
    }
}
