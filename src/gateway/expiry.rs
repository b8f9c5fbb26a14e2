//! The expiry scheduler: a thread that sleeps until the earliest deadline the cache knows and
//! then submits an [`Change::Expire`] to the writer, which deletes, in one transaction recorded
//! in the history, every group still due as its batch leaves the store. A batch that sets an
//! earlier deadline than the one the scheduler sleeps until wakes it ([`DeadlineSignal`]).
//!
//! When it runs is [`crate::lifetime::next_run_ns`]: at the deadline, but at most once per
//! [`crate::lifetime::MIN_RUN_INTERVAL_NS`], so a group is gone within that of its deadline.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::deadline_signal::{DeadlineSignal, SignalState};
use super::writer::{Change, Shared, Submitter};
use super::GatewayError;
use crate::clock::now_ns;
use crate::lifetime::{next_run_ns, sleep_for};

/// How long the scheduler waits before trying again after the store refused an expiry.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The running scheduler; dropping it stops the thread (after the expiry it may be running).
pub(super) struct Scheduler {
    signal: Arc<DeadlineSignal>,
    thread: Option<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts the scheduler thread over the writer's queue.
    pub(super) fn start(shared: Arc<Shared>, submitter: Submitter) -> std::io::Result<Scheduler> {
        let signal = shared.expiry.clone();
        let thread = std::thread::Builder::new()
            .name("group-expiry".into())
            .spawn(move || run(&shared, &submitter))?;
        Ok(Scheduler {
            signal,
            thread: Some(thread),
        })
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.signal.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Expires, through the writer, every group due at `now_ns`; returns how many went.
pub(super) fn expire_due(
    shared: &Shared,
    submitter: &Submitter,
    now_ns: i64,
) -> Result<usize, GatewayError> {
    let expired = submitter.submit_blocking(Change::Expire { now_ns })?;
    if expired > 0 {
        shared
            .stats
            .groups_expired
            .fetch_add(expired as u64, Ordering::Relaxed);
        log::info!("expired {expired} groups whose lifetime ran out");
    }
    Ok(expired)
}

fn run(shared: &Shared, submitter: &Submitter) {
    let signal = &shared.expiry;
    let mut last_run: Option<i64> = None;
    let mut state = signal.lock();
    loop {
        if state.stopped {
            return;
        }
        state.sleeping = false;
        state.woken = false;
        let now = now_ns();
        let run_at = next_run_ns(shared.read_cache().next_deadline(), last_run);
        match sleep_for(now, run_at) {
            Some(wait) if wait.is_zero() => {
                drop(state);
                last_run = Some(now);
                if let Err(e) = expire_due(shared, submitter, now) {
                    log::error!("expiring groups: {e}; trying again in {RETRY_AFTER_FAILURE:?}");
                    std::thread::sleep(RETRY_AFTER_FAILURE);
                }
                state = signal.lock();
            }
            wait => {
                state.sleeping = true;
                state.sleeping_until = run_at;
                let woken = |s: &mut SignalState| !s.woken && !s.stopped;
                state = match wait {
                    Some(wait) => {
                        signal
                            .changed
                            .wait_timeout_while(state, wait, woken)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                    None => signal
                        .changed
                        .wait_while(state, woken)
                        .unwrap_or_else(|e| e.into_inner()),
                };
            }
        }
    }
}
