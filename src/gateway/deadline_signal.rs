//! How the writer wakes the expiry scheduler ([`super::expiry`]): after a batch commits a
//! deadline earlier than the one the scheduler sleeps until. The scheduler reads the cache
//! under this lock before it sleeps, so no deadline committed meanwhile is missed.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Where the writer tells the scheduler about new deadlines.
#[derive(Debug, Default)]
pub(super) struct DeadlineSignal {
    state: Mutex<SignalState>,
    /// Notified when `woken` or `stopped` is set.
    pub(super) changed: Condvar,
}

#[derive(Debug, Default)]
pub(super) struct SignalState {
    /// The scheduler sleeps until this (Unix ns; `None`: until woken). While it is awake it
    /// reads the cache under this state's lock, so it misses no deadline set meanwhile.
    pub(super) sleeping_until: Option<i64>,
    /// Whether it sleeps at all (otherwise it reads the cache again before sleeping).
    pub(super) sleeping: bool,
    pub(super) woken: bool,
    pub(super) stopped: bool,
}

impl DeadlineSignal {
    pub(super) fn lock(&self) -> MutexGuard<'_, SignalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A committed batch gave a group this deadline: wake the scheduler if it sleeps past it.
    pub(super) fn deadline_set(&self, deadline_ns: i64) {
        let mut state = self.lock();
        if state.sleeping && state.sleeping_until.is_none_or(|until| deadline_ns < until) {
            state.woken = true;
            self.changed.notify_one();
        }
    }

    pub(super) fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_deadline_earlier_than_the_sleep_wakes_the_scheduler() {
        let signal = DeadlineSignal::default();
        // Awake: it reads the cache again anyway.
        signal.deadline_set(5);
        assert!(!signal.lock().woken);
        {
            let mut state = signal.lock();
            state.sleeping = true;
            state.sleeping_until = Some(100);
        }
        signal.deadline_set(150);
        assert!(!signal.lock().woken);
        signal.deadline_set(50);
        assert!(signal.lock().woken);
        let mut state = signal.lock();
        state.woken = false;
        state.sleeping_until = None;
        drop(state);
        // Sleeping with no deadline at all: any deadline wakes it.
        signal.deadline_set(i64::MAX);
        assert!(signal.lock().woken);
    }
}
