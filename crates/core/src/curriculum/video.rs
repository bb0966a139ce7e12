//! Covered intervals of a video: what counts as watched, from the positions a player reports.
//!
//! Between two consecutive reports of the same student, the span counts as watched when the position
//! moved forward by at most `MAX_STEP_SECONDS`; a larger jump or a move backwards (a seek) covers
//! nothing and starts a new interval at the new position. Wall-clock pacing is not checked: a client
//! that reports every few seconds of playback is what the rule expects.
use serde::{Deserialize, Serialize};

/// The largest forward step between two reports that still counts as watched.
pub const MAX_STEP_SECONDS: i32 = 30;
/// The share of a video that must be covered for the lesson to complete.
pub const COMPLETE_AT_PERCENT: i64 = 90;

/// What is stored per student and video: the merged intervals and the last reported position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Merged, sorted, non-overlapping `[start, end)` spans in seconds.
    pub intervals: Vec<(i32, i32)>,
    /// None before the first report.
    pub last_position: Option<i32>,
}

impl Coverage {
    /// Applies one report of `position` (clamped to `0..=duration`).
    /// The step is measured on the positions as reported: a report far past the end is a seek.
    pub fn report(&mut self, position: i32, duration: i32) {
        let clamped = position.clamp(0, duration);
        if let Some(last) = self.last_position {
            let step = position - last;
            if step > 0 && step <= MAX_STEP_SECONDS && clamped > last {
                self.add(last, clamped);
            }
        }
        self.last_position = Some(clamped);
    }

    fn add(&mut self, start: i32, end: i32) {
        self.intervals.push((start, end));
        self.intervals.sort_unstable();
        let mut merged: Vec<(i32, i32)> = Vec::with_capacity(self.intervals.len());
        for (start, end) in self.intervals.drain(..) {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        self.intervals = merged;
    }

    /// Seconds covered.
    pub fn covered(&self) -> i32 {
        self.intervals.iter().map(|(s, e)| e - s).sum()
    }

    /// Whether the covered share reaches `COMPLETE_AT_PERCENT` of `duration`.
    pub fn completes(&self, duration: i32) -> bool {
        duration > 0 && i64::from(self.covered()) * 100 >= i64::from(duration) * COMPLETE_AT_PERCENT
    }

    /// The stored form of the intervals (JSON `[[start, end], ...]`).
    pub fn intervals_json(&self) -> String {
        serde_json::to_string(&self.intervals).unwrap_or_else(|_| "[]".into())
    }

    pub fn from_stored(intervals: &str, last_position: i32) -> Self {
        Coverage {
            intervals: serde_json::from_str(intervals).unwrap_or_default(),
            last_position: Some(last_position),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(positions: &[i32], duration: i32) -> Coverage {
        let mut coverage = Coverage::default();
        for p in positions {
            coverage.report(*p, duration);
        }
        coverage
    }

    #[test]
    fn steady_reports_cover_what_they_span() {
        let c = watch(&[0, 10, 20, 30, 40], 100);
        assert_eq!(c.intervals, vec![(0, 40)]);
        assert_eq!(c.covered(), 40);
    }

    #[test]
    fn the_first_report_covers_nothing() {
        assert_eq!(watch(&[50], 100).covered(), 0);
    }

    #[test]
    fn a_step_of_exactly_thirty_seconds_counts_and_a_larger_one_is_a_seek() {
        assert_eq!(watch(&[0, 30], 100).covered(), 30);
        let c = watch(&[0, 31, 41], 100);
        assert_eq!(c.intervals, vec![(31, 41)], "the jump covered nothing");
    }

    #[test]
    fn seeking_back_and_rewatching_is_not_counted_twice() {
        let c = watch(&[0, 20, 40, 10, 30, 50], 100);
        assert_eq!(c.intervals, vec![(0, 50)]);
        assert_eq!(c.covered(), 50);
    }

    #[test]
    fn separate_stretches_stay_separate_until_they_touch() {
        let c = watch(&[0, 10, 60, 70, 10, 30], 100);
        assert_eq!(c.intervals, vec![(0, 30), (60, 70)]);
        assert_eq!(c.covered(), 40);
        let c = watch(&[0, 10, 60, 70, 10, 30, 60], 100);
        assert_eq!(c.intervals, vec![(0, 70)]);
    }

    #[test]
    fn positions_past_the_end_count_up_to_the_end() {
        let c = watch(&[80, 100, 130], 100);
        assert_eq!(c.intervals, vec![(80, 100)]);
        let c = watch(&[80, 95, 120], 100);
        assert_eq!(c.intervals, vec![(80, 100)]);
        // A report far past the end is a seek: it covers nothing.
        let c = watch(&[0, 10, 250], 100);
        assert_eq!(c.intervals, vec![(0, 10)]);
    }

    #[test]
    fn ninety_percent_completes() {
        let steps: Vec<i32> = (0..=89).step_by(1).collect();
        assert!(!watch(&steps, 100).completes(100), "89 s of 100");
        let steps: Vec<i32> = (0..=90).collect();
        assert!(watch(&steps, 100).completes(100), "90 s of 100");
        // Skipping through in 31-second jumps covers nothing.
        let jumps: Vec<i32> = (0..=100).step_by(31).collect();
        assert_eq!(watch(&jumps, 100).covered(), 0);
    }

    #[test]
    fn stored_coverage_round_trips() {
        let c = watch(&[0, 10, 50, 60], 100);
        let back = Coverage::from_stored(&c.intervals_json(), 60);
        assert_eq!(back, c);
    }
}
