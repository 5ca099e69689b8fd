//! Process hardening for the agent: no core dumps, not ptrace-attachable by
//! other users' processes, memory locked against swap where allowed.

use rustix::mm::{mlockall, MlockAllFlags};
use rustix::process::{
    getrlimit, set_dumpable_behavior, setrlimit, DumpableBehavior, Resource, Rlimit,
};

/// What hardening took effect (for the agent's start-up log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    /// Core dumps disabled and the process marked non-dumpable.
    pub no_core_dumps: bool,
    /// All current and future memory locked.
    pub memory_locked: bool,
}

/// Applies what the OS allows; never fails, reports what held.
pub fn harden_process() -> Hardening {
    let no_core = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .is_ok()
        && set_dumpable_behavior(DumpableBehavior::NotDumpable).is_ok();
    // MCL_FUTURE under a small RLIMIT_MEMLOCK would make later allocations
    // fail, so lock future pages only when the limit cannot bite.
    let unlimited =
        getrlimit(Resource::Memlock).current.is_none() || rustix::process::geteuid().is_root();
    let flags = if unlimited {
        MlockAllFlags::CURRENT | MlockAllFlags::FUTURE
    } else {
        MlockAllFlags::CURRENT
    };
    let locked = mlockall(flags).is_ok() && unlimited;
    Hardening {
        no_core_dumps: no_core,
        memory_locked: locked,
    }
}
