//! Stopping a run from outside: a flag the epoch loop reads after every step and before every
//! epoch. A stopped run writes no partial epoch; its completed epochs are checkpointed already,
//! so the same run started again resumes after the last of them.
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Why a run was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The run's owner cancelled it; it is not meant to be resumed.
    Cancelled,
    /// The process is shutting down; the run is meant to be resumed when it comes back.
    Shutdown,
}

impl StopReason {
    /// The flag's value: 0 is "no stop", and a greater value wins over a smaller one.
    fn code(self) -> u8 {
        match self {
            Self::Shutdown => 1,
            Self::Cancelled => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Shutdown),
            2 => Some(Self::Cancelled),
            _ => None,
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cancelled => "cancelled",
            Self::Shutdown => "shutdown",
        })
    }
}

/// A handle that stops a run; clones share the same flag, so the job's owner keeps one and the
/// training thread another.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    stop: Arc<AtomicU8>,
}

impl RunControl {
    /// A control with no stop requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop at its next check (after the current step). Requests add up:
    /// `Cancelled` wins over `Shutdown` whatever their order, since a cancelled run must not
    /// be resumed after a restart.
    pub fn request_stop(&self, reason: StopReason) {
        self.stop.fetch_max(reason.code(), Ordering::SeqCst);
    }

    /// The stop requested so far, if any.
    pub fn stop_requested(&self) -> Option<StopReason> {
        StopReason::from_code(self.stop.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_cancel_wins() {
        let control = RunControl::new();
        let worker = control.clone();
        assert_eq!(worker.stop_requested(), None);
        control.request_stop(StopReason::Shutdown);
        assert_eq!(worker.stop_requested(), Some(StopReason::Shutdown));
        control.request_stop(StopReason::Cancelled);
        control.request_stop(StopReason::Shutdown);
        assert_eq!(worker.stop_requested(), Some(StopReason::Cancelled));
        assert_eq!(StopReason::Cancelled.to_string(), "cancelled");
    }
}
