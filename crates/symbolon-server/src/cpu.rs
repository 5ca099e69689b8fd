//! Lanes for the CPU-bound work requests bring (a CSR's review with its
//! weak-key checks; the signatures of certificates, responses, OCSP
//! answers, CRLs, CMP messages and log checkpoints): at most as many run
//! at once, of each of two kinds, as the process has cores to run on.
//!
//! Without them every request in flight gets its own blocking thread, and
//! on a loaded service dozens of signing threads share the cores fairly
//! with the registry's writer and its database thread. Each of the
//! writer's round trips then waits its turn behind them, and the writer —
//! the one serial path of issuance — becomes the bottleneck while cores go
//! idle between its steps. With lanes, work beyond the cores waits as a
//! parked future, not as a runnable thread, and the writer runs when it is
//! woken.

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::Semaphore;

/// Why lane work produced no result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LaneError {
    /// The work panicked or the runtime is shutting down.
    #[error("the task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The lanes were closed (never, while the service lives).
    #[error("no lane is open")]
    Closed,
}

/// A service's lanes: key checks and reviews (milliseconds; seconds at
/// the deep weak-key effort) apart from signatures, so long checks never
/// hold up an OCSP answer or a CRL, and a token that signs slowly (an
/// agent, a device) never holds up the checks.
pub(crate) struct Cpu {
    /// CSR reviews and weak-key checks.
    pub(crate) checks: Lanes,
    /// Signatures by the CA's token.
    pub(crate) signing: Lanes,
}

impl Cpu {
    /// Each kind of work gets a lane per core.
    pub(crate) fn per_core() -> Self {
        Self {
            checks: Lanes::per_core(),
            signing: Lanes::per_core(),
        }
    }
}

/// Lanes for one kind of work.
#[derive(Clone)]
pub(crate) struct Lanes {
    permits: Arc<Semaphore>,
}

impl Lanes {
    /// One lane per core this process may run on (its affinity and CPU
    /// quota: `taskset -c 0` gives one).
    pub(crate) fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
    }

    pub(crate) fn new(lanes: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(lanes.max(1))),
        }
    }

    /// Runs `work` on a blocking thread once a lane is free. The lane is
    /// held until the work ends, even if the caller stops waiting for it.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LaneError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| LaneError::Closed)?;
        Ok(tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_run_at_once_than_there_are_lanes() {
        let lanes = Lanes::new(2);
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (lanes, now, most) = (lanes.clone(), Arc::clone(&now), Arc::clone(&most));
                tokio::spawn(async move {
                    lanes
                        .run(move || {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(5));
                            now.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        // Two may or may not have overlapped on a slow machine; more never.
        assert!((1..=2).contains(&most.load(Ordering::SeqCst)));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_frees_its_lane() {
        let lanes = Lanes::new(1);
        let e = lanes.run(|| panic!("boom")).await.unwrap_err();
        assert!(matches!(e, LaneError::Task(_)), "{e}");
        assert_eq!(lanes.run(|| 7).await.unwrap(), 7);
    }
}
