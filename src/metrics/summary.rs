//! A Prometheus summary (count, sum and quantiles) whose quantiles are exact over a bounded
//! sliding window of the most recent observations.
//!
//! Upstream's summaries (client_golang) estimate their quantiles with a CKMS stream per
//! objective error target, over a 10-minute window that slides in five 2-minute steps. No
//! maintained Rust crate offers that (the one CKMS crate, `quantiles`, has seen no release
//! since 2018 and has no window), so this keeps the observations themselves:
//!
//! * only those of the last [`WINDOW`] (10 minutes, upstream's `DefMaxAge`), and at most
//!   [`MAX_SAMPLES`] of them (the newest), so memory stays bounded at any push rate: at
//!   very high rates the window shrinks to the last [`MAX_SAMPLES`] observations;
//! * quantiles are computed exactly over what is kept with the nearest-rank rule (the same
//!   rule upstream's estimator applies while its stream is small), so every objective's error
//!   target is met for the window;
//! * an empty window gives NaN quantiles, as upstream's do; count and sum cover the whole
//!   life of the process.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::proto;

/// How long an observation counts towards the quantiles (upstream's default max age).
pub const WINDOW: Duration = Duration::from_secs(600);

/// The most observations kept per summary: 16 bytes each, so 160 KiB at most.
pub const MAX_SAMPLES: usize = 10_000;

/// Upstream's objectives for the push summaries: quantile and its allowed rank error.
pub const PUSH_OBJECTIVES: &[(f64, f64)] = &[(0.1, 0.01), (0.5, 0.05), (0.9, 0.01)];

/// One summary series.
#[derive(Debug, Clone)]
pub struct Summary {
    objectives: &'static [(f64, f64)],
    window: Duration,
    max_samples: usize,
    /// Observations in arrival order, with when they arrived.
    samples: VecDeque<(Instant, f64)>,
    count: u64,
    sum: f64,
}

impl Summary {
    /// A summary over upstream's default window with the given objectives.
    pub fn new(objectives: &'static [(f64, f64)]) -> Summary {
        Summary::with_window(objectives, WINDOW, MAX_SAMPLES)
    }

    /// A summary with its own window and sample bound (at least one sample is kept).
    pub fn with_window(
        objectives: &'static [(f64, f64)],
        window: Duration,
        max_samples: usize,
    ) -> Summary {
        Summary {
            objectives,
            window,
            max_samples: max_samples.max(1),
            samples: VecDeque::new(),
            count: 0,
            sum: 0.0,
        }
    }

    /// Records one observation now.
    pub fn observe(&mut self, value: f64) {
        self.observe_at(Instant::now(), value);
    }

    /// Records one observation made at `now`.
    pub fn observe_at(&mut self, now: Instant, value: f64) {
        self.count += 1;
        self.sum += value;
        self.expire(now);
        if self.samples.len() == self.max_samples {
            self.samples.pop_front();
        }
        self.samples.push_back((now, value));
    }

    /// Observations over the life of the summary.
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of all observations over the life of the summary.
    #[cfg(test)]
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Each objective's quantile over the window ending at `now`, in objective order.
    pub fn quantiles_at(&mut self, now: Instant) -> Vec<(f64, f64)> {
        self.expire(now);
        let mut values: Vec<f64> = self.samples.iter().map(|(_, v)| *v).collect();
        values.sort_by(f64::total_cmp);
        self.objectives
            .iter()
            .map(|(q, _)| (*q, nearest_rank(&values, *q)))
            .collect()
    }

    /// Drops observations that left the window, then the series as a protobuf summary with
    /// quantiles over the window ending now.
    pub fn expire_and_snapshot(&mut self) -> proto::Summary {
        let quantile = self
            .quantiles_at(Instant::now())
            .into_iter()
            .map(|(q, v)| proto::Quantile {
                quantile: Some(q),
                value: Some(v),
            })
            .collect();
        proto::Summary {
            sample_count: Some(self.count),
            sample_sum: Some(self.sum),
            quantile,
            created_timestamp: None,
        }
    }

    /// Drops observations older than the window.
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.samples.front() {
            if now.saturating_duration_since(*at) > self.window {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }
}

/// The `q` quantile of sorted `values` by the nearest-rank rule: the smallest value with at
/// least `q` of the values at or below it. NaN when there are none.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_picks_the_smallest_value_covering_the_quantile() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&values, 0.1), 1.0);
        assert_eq!(nearest_rank(&values, 0.5), 5.0);
        assert_eq!(nearest_rank(&values, 0.9), 9.0);
        assert_eq!(nearest_rank(&values, 0.95), 10.0);
        assert_eq!(nearest_rank(&values, 0.0), 1.0);
        assert_eq!(nearest_rank(&[7.0], 0.9), 7.0);
        assert!(nearest_rank(&[], 0.5).is_nan());
    }

    #[test]
    fn quantiles_are_exact_and_within_every_objective() {
        let mut s = Summary::new(PUSH_OBJECTIVES);
        let now = Instant::now();
        // 1000 observations in a scrambled order.
        for i in 0..1000u32 {
            s.observe_at(now, f64::from((i * 7919) % 1000 + 1));
        }
        let q = s.quantiles_at(now);
        assert_eq!(q, vec![(0.1, 100.0), (0.5, 500.0), (0.9, 900.0)]);
        assert_eq!(s.count(), 1000);
        assert_eq!(s.sum(), 500_500.0);
    }

    #[test]
    fn an_empty_window_gives_nan_quantiles_but_keeps_count_and_sum() {
        let mut s = Summary::with_window(PUSH_OBJECTIVES, Duration::from_secs(60), 100);
        let start = Instant::now();
        s.observe_at(start, 3.0);
        assert_eq!(s.quantiles_at(start)[1], (0.5, 3.0));
        let later = start + Duration::from_secs(61);
        assert!(s.quantiles_at(later).iter().all(|(_, v)| v.is_nan()));
        assert_eq!((s.count(), s.sum()), (1, 3.0));
        let p = s.expire_and_snapshot();
        assert_eq!(p.sample_count, Some(1));
        assert_eq!(p.quantile.len(), 3);
    }

    #[test]
    fn old_observations_leave_the_window() {
        let mut s = Summary::with_window(PUSH_OBJECTIVES, Duration::from_secs(60), 100);
        let start = Instant::now();
        for _ in 0..10 {
            s.observe_at(start, 1000.0);
        }
        let later = start + Duration::from_secs(90);
        for _ in 0..10 {
            s.observe_at(later, 1.0);
        }
        assert_eq!(s.quantiles_at(later)[2], (0.9, 1.0));
        assert_eq!(s.count(), 20);
    }

    #[test]
    fn the_number_of_kept_observations_is_bounded_keeping_the_newest() {
        let mut s = Summary::with_window(PUSH_OBJECTIVES, WINDOW, 5);
        let now = Instant::now();
        for i in 1..=100 {
            s.observe_at(now, f64::from(i));
        }
        assert_eq!(s.samples.len(), 5);
        assert_eq!(s.quantiles_at(now)[0], (0.1, 96.0));
        assert_eq!(s.count(), 100);
    }
}
