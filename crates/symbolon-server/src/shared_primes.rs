//! The service's shared-prime check (docs/weak-keys.md): every modulus the
//! registry has seen, in an in-memory [`PrimeIndex`] refreshed from the
//! registry before each check; the check against that snapshot, then the
//! serialised write that records the modulus and checks what other
//! processes recorded since ([`Registry::see_modulus`]).

use std::sync::{Arc, RwLock};

use symbolon::ca::CaError;
use symbolon::keys::shared_primes::PrimeIndex;
use symbolon::keys::weak::{WeakClass, WeakKey};
use symbolon::keys::{Fingerprint, RsaPublicKey};
use symbolon_store::{Registry, SharedKey};

use crate::ServiceError;

/// Where a modulus was seen, as the registry records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// In a certification request that passed review.
    Certify,
    /// In a reservation.
    Reserve,
    /// In a request refused as weak: kept, never checked against.
    Refused,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Self::Certify => "certify",
            Self::Reserve => "reserve",
            Self::Refused => "refused",
        }
    }
}

/// The fingerprint of a key given as SPKI or PKCS#1 DER, whether or not it
/// loads: canonical when it does.
fn fingerprint_of(der: &[u8]) -> Fingerprint {
    RsaPublicKey::from_der(der)
        .map(|k| k.fingerprint())
        .unwrap_or_else(|_| Fingerprint::of_spki(der))
}

/// The index and the last registry row it holds.
struct Snapshot {
    index: PrimeIndex,
    loaded: i64,
    /// Keys registered before moduli were recorded have been recorded.
    backfilled: bool,
}

/// Shared by the service's requests.
#[derive(Clone)]
pub(crate) struct SharedPrimes {
    snapshot: Arc<RwLock<Snapshot>>,
}

impl SharedPrimes {
    pub(crate) fn new() -> Self {
        Self {
            snapshot: Arc::new(RwLock::new(Snapshot {
                index: PrimeIndex::new(),
                loaded: 0,
                backfilled: false,
            })),
        }
    }

    /// Brings the index up to the registry's last row (the first time,
    /// after recording the moduli of keys registered before there were any).
    async fn refresh(&self, registry: &Registry) -> Result<i64, ServiceError> {
        if !self.read().backfilled {
            registry.record_unrecorded_moduli().await?;
            self.snapshot
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .backfilled = true;
        }
        let since = self.read().loaded;
        let rows = registry.moduli_since(since).await?;
        let mut s = self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for row in rows {
            // Another request may have loaded some of these meanwhile.
            if row.id > s.loaded {
                s.index.insert(row.key, &row.modulus);
                s.loaded = row.id;
            }
        }
        Ok(s.loaded)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps the modulus of a key refused as weak (any DER the modulus can
    /// be read from), for the checks of keys to come: without its small
    /// prime factors, which are public and shared by many broken keys, and
    /// not at all when nothing large is left.
    pub(crate) async fn keep_refused(
        &self,
        registry: &Registry,
        der: &[u8],
    ) -> Result<(), ServiceError> {
        let Some((modulus, _)) = symbolon::keys::rsa_components(der) else {
            return Ok(());
        };
        let fingerprint = fingerprint_of(der);
        let reduced = tokio::task::spawn_blocking(move || {
            symbolon::keys::weak::without_small_factors(&modulus)
        })
        .await
        .map_err(|e| CaError::Internal(format!("shared-prime record: {e}")))?;
        if let Some(reduced) = reduced {
            registry
                .see_modulus(
                    fingerprint,
                    &reduced,
                    Origin::Refused.as_str(),
                    i64::MAX,
                    Vec::new(),
                )
                .await?;
        }
        Ok(())
    }

    /// Records a key's modulus; for a key being certified or reserved, first
    /// checks it against every modulus seen. A key sharing a prime is refused
    /// as weak, and the keys it shares with are reported in the audit log.
    pub(crate) async fn see(
        &self,
        registry: &Registry,
        key: &RsaPublicKey,
        origin: Origin,
    ) -> Result<(), ServiceError> {
        let fingerprint = key.fingerprint();
        let since = self.refresh(registry).await?;
        // The products modulo n are CPU work: off the async threads.
        let this = self.clone();
        let modulus = key.modulus().to_vec();
        let known = tokio::task::spawn_blocking(move || {
            let s = this.read();
            s.index.shared_with(&modulus, &fingerprint)
        })
        .await
        .map_err(|e| CaError::Internal(format!("shared-prime check: {e}")))?;
        let known = known
            .into_iter()
            .map(|s| SharedKey {
                key: s.key,
                factor_bits: s.factor_bits,
            })
            .collect();
        let shared = registry
            .see_modulus(fingerprint, key.modulus(), origin.as_str(), since, known)
            .await?;
        match shared.as_slice() {
            [] => Ok(()),
            shared => Err(CaError::WeakKey(refusal(shared)).into()),
        }
    }
}

fn refusal(shared: &[SharedKey]) -> WeakKey {
    let others: Vec<String> = shared.iter().map(|s| s.key.to_string()).collect();
    let bits = shared.first().map_or(0, |s| s.factor_bits);
    WeakKey::new(
        WeakClass::SharedPrime,
        format!(
            "its modulus shares a {bits}-bit factor with {} already seen ({}): a gcd factors both; the other key is reported in the audit log",
            if others.len() == 1 { "a key" } else { "keys" },
            others.join(", ")
        ),
    )
}
