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
//! idle between its steps. With lanes, work beyond the cores waits (a
//! job in the lanes' queue, or a parked future for a lone lane), not as a
//! runnable thread, and the writer runs when it is woken.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use tokio::sync::{oneshot, Semaphore};

/// Why lane work produced no result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LaneError {
    /// The work panicked; its lane goes on with the next.
    #[error("the work panicked")]
    Panicked,
    /// The lanes were closed, or the runtime is shutting down (never,
    /// while the service lives).
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
    /// Each kind of work gets a lane per core this process may run on (its
    /// affinity and CPU quota: `taskset -c 0` gives one).
    pub(crate) fn per_core() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Ok(Self {
            checks: Lanes::new("symbolon-check", cores)?,
            signing: Lanes::new("symbolon-sign", cores)?,
        })
    }
}

/// Work queued for a lane.
type Job = Box<dyn FnOnce() + Send>;

/// The queue the lanes of one kind take their work from.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    /// Set when the last [`Lanes`] handle goes (so nothing can be pushed
    /// after): the threads finish what is queued and end.
    closed: bool,
}

impl Queue {
    fn push(&self, job: Job) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .jobs
            .push_back(job);
        self.ready.notify_one();
    }

    /// The next job, waiting for one; `None` once closed and drained.
    fn take(&self) -> Option<Job> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.ready.notify_all();
    }
}

/// Closes the queue when the last handle to the lanes goes (the threads
/// hold the queue, not this).
struct Owner(Arc<Queue>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Lanes for one kind of work.
///
/// With two lanes or more (cores) each lane is a thread that takes the next
/// job from a shared queue as soon as it ends the last: a busy lane goes
/// from job to job without a hop through the async runtime, which a
/// semaphore and a blocking task per job cost (two thread wakes between
/// jobs, in which a core stands idle). With one core that hop is what lets
/// the service's coordination gather: a lane that never waits is preempted
/// by every wake of the registry's writer and its database thread, and the
/// writer commits a batch for every certificate or two instead of every
/// eight (measured on issuance pinned to one core: 15 % fewer
/// certificates/s), so one lane hands each job's end through the runtime.
///
/// The queue holds at most [`QUEUED_PER_LANE`] jobs a lane; callers beyond
/// wait as parked futures, and one that leaves is gone with its captures.
/// Lane threads are not joined: a process that exits ends a job still
/// running, which after the service's graceful stop (connections drained)
/// can only be work whose caller already left.
#[derive(Clone)]
pub(crate) struct Lanes {
    kind: LaneKind,
}

#[derive(Clone)]
enum LaneKind {
    /// One lane: a permit per job, the job on a blocking task.
    HandOff(Arc<Semaphore>),
    /// Lane threads, their queue, and room in it.
    Threads {
        owner: Arc<Owner>,
        room: Arc<Semaphore>,
    },
}

/// Jobs a lane may have queued: enough that a lane never waits for the
/// runtime to hand it the next, few enough that a caller who leaves does
/// not leave its work queued for long.
const QUEUED_PER_LANE: usize = 8;

impl Lanes {
    pub(crate) fn new(name: &str, lanes: usize) -> std::io::Result<Self> {
        if lanes <= 1 {
            return Ok(Self {
                kind: LaneKind::HandOff(Arc::new(Semaphore::new(1))),
            });
        }
        let queue = Arc::new(Queue::default());
        let owner = Owner(Arc::clone(&queue));
        for _ in 0..lanes {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    while let Some(job) = queue.take() {
                        // A job catches its work's panic for its caller;
                        // this catches one from dropping what it holds, so
                        // the lane lives on either way.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(Self {
            kind: LaneKind::Threads {
                owner: Arc::new(owner),
                room: Arc::new(Semaphore::new(lanes * QUEUED_PER_LANE)),
            },
        })
    }

    /// Runs `work` on a lane once one is free. Once started the work runs
    /// to its end, even if the caller stops waiting for it; work whose
    /// caller stopped waiting before its turn is skipped.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LaneError> {
        match &self.kind {
            LaneKind::HandOff(permits) => {
                let permit = Arc::clone(permits)
                    .acquire_owned()
                    .await
                    .map_err(|_| LaneError::Closed)?;
                tokio::task::spawn_blocking(move || {
                    let out = work();
                    drop(permit);
                    out
                })
                .await
                .map_err(|e| {
                    if e.is_panic() {
                        LaneError::Panicked
                    } else {
                        LaneError::Closed
                    }
                })
            }
            LaneKind::Threads { owner, room } => {
                let place = Arc::clone(room)
                    .acquire_owned()
                    .await
                    .map_err(|_| LaneError::Closed)?;
                let (tx, rx) = oneshot::channel();
                owner.0.push(Box::new(move || {
                    drop(place);
                    if tx.is_closed() {
                        return;
                    }
                    // A panic ends this job, not the lane: the caller
                    // hears of it.
                    let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
                }));
                match rx.await {
                    Ok(Ok(out)) => Ok(out),
                    Ok(Err(_)) => Err(LaneError::Panicked),
                    Err(_) => Err(LaneError::Closed),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    /// Both kinds: one lane hands off through the runtime, more are threads.
    const LANE_COUNTS: [usize; 3] = [1, 2, 3];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_run_at_once_than_there_are_lanes() {
        for count in LANE_COUNTS {
            let lanes = Lanes::new("test", count).unwrap();
            let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let tasks: Vec<_> = (0..12)
                .map(|_| {
                    let (lanes, now, most) = (lanes.clone(), Arc::clone(&now), Arc::clone(&most));
                    tokio::spawn(async move {
                        lanes
                            .run(move || {
                                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(n, Ordering::SeqCst);
                                std::thread::sleep(Duration::from_millis(5));
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
            // All may or may not have overlapped on a slow machine; more never.
            assert!((1..=count).contains(&most.load(Ordering::SeqCst)));
        }
    }

    /// Runs `count` jobs that must all be on a lane at once to end: only
    /// when every lane is free and alive.
    async fn all_lanes_at_once(lanes: &Lanes, count: usize) {
        let meet = Arc::new(std::sync::Barrier::new(count));
        let jobs: Vec<_> = (0..count)
            .map(|_| {
                let (lanes, meet) = (lanes.clone(), Arc::clone(&meet));
                tokio::spawn(
                    async move { lanes.run(move || meet.wait().is_leader()).await.unwrap() },
                )
            })
            .collect();
        let mut leaders = 0;
        for j in jobs {
            leaders += usize::from(j.await.unwrap());
        }
        assert_eq!(leaders, 1);
    }

    /// Holds every lane until the returned gate opens.
    async fn hold_every_lane(
        lanes: &Lanes,
        count: usize,
    ) -> (
        Arc<(Mutex<bool>, Condvar)>,
        Vec<tokio::task::JoinHandle<()>>,
    ) {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
        let holders = (0..count)
            .map(|_| {
                let (lanes, gate, started) = (lanes.clone(), Arc::clone(&gate), started_tx.clone());
                tokio::spawn(async move {
                    lanes
                        .run(move || {
                            started.send(()).unwrap();
                            let (open, cv) = &*gate;
                            let mut open = open.lock().unwrap();
                            while !*open {
                                open = cv.wait(open).unwrap();
                            }
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for _ in 0..count {
            started_rx.recv().await.unwrap();
        }
        (gate, holders)
    }

    async fn open(gate: &(Mutex<bool>, Condvar), holders: Vec<tokio::task::JoinHandle<()>>) {
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        for h in holders {
            h.await.unwrap();
        }
    }

    /// A hung lane fails the test instead of hanging it.
    const PATIENCE: Duration = Duration::from_secs(60);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_is_an_error_and_every_lane_lives_on() {
        tokio::time::timeout(PATIENCE, async {
            for count in LANE_COUNTS {
                let lanes = Lanes::new("test", count).unwrap();
                for _ in 0..2 * count {
                    let e = lanes.run(|| panic!("boom")).await.unwrap_err();
                    assert!(matches!(e, LaneError::Panicked), "{e}");
                }
                all_lanes_at_once(&lanes, count).await;
                assert_eq!(lanes.run(|| 7).await.unwrap(), 7);
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_whose_caller_left_before_its_turn_never_runs() {
        tokio::time::timeout(PATIENCE, async {
            for count in LANE_COUNTS {
                let lanes = Lanes::new("test", count).unwrap();
                let (gate, holders) = hold_every_lane(&lanes, count).await;
                // Queued behind them, then given up.
                let ran = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&ran);
                let waiting = lanes.run(move || flag.store(true, Ordering::SeqCst));
                assert!(tokio::time::timeout(Duration::from_millis(1), waiting)
                    .await
                    .is_err());
                open(&gate, holders).await;
                // In queue order, the abandoned job had its turn and ended
                // before every lane could be free at once.
                all_lanes_at_once(&lanes, count).await;
                assert!(!ran.load(Ordering::SeqCst), "{count} lanes");
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_who_leave_keep_no_more_queued_than_the_room() {
        tokio::time::timeout(PATIENCE, async {
            let count = 2;
            let lanes = Lanes::new("test", count).unwrap();
            let (gate, holders) = hold_every_lane(&lanes, count).await;
            // Far more callers than the queue has room for, each leaving
            // its captured share of `held` behind, then all given up.
            let held = Arc::new(());
            let callers = count * QUEUED_PER_LANE + 20;
            for _ in 0..callers {
                let mine = Arc::clone(&held);
                let waiting = lanes.run(move || drop(mine));
                assert!(tokio::time::timeout(Duration::from_millis(1), waiting)
                    .await
                    .is_err());
            }
            // Only what entered the queue still holds its captures.
            let still_held = Arc::strong_count(&held) - 1;
            assert!(
                still_held <= count * QUEUED_PER_LANE,
                "{still_held} still held"
            );
            open(&gate, holders).await;
            all_lanes_at_once(&lanes, count).await;
            assert_eq!(Arc::strong_count(&held), 1);
        })
        .await
        .unwrap();
    }

    #[test]
    fn lane_threads_end_with_their_lanes() {
        let lanes = Lanes::new("test", 2).unwrap();
        let LaneKind::Threads { owner, .. } = &lanes.kind else {
            panic!("two lanes are threads");
        };
        let queue = Arc::downgrade(&owner.0);
        drop(lanes);
        // Each thread drops its share of the queue as it ends.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while queue.strong_count() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "lane threads still hold the queue"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
