//! When events happen: a weekly rhythm of activity, and a schedule that spreads `count`
//! events over `[from, to)` according to it.
//!
//! The rhythm gives every hour of the week (UTC, Monday first) an integer weight; an
//! instant's density is the weight of its hour. Its integral `F(t)` has a closed form
//! (whole weeks plus a partial week), so the schedule can invert it directly: event `i` of
//! `n` gets the instant where `F` reaches a point drawn uniformly inside the `i`-th of `n`
//! equal slices of `F(from)..F(to)`. That makes times
//!
//! * follow the rhythm (busy weekday office hours, quiet nights and weekends),
//! * non-decreasing in `i`, so resources are created before they are patched or deleted,
//! * computable one at a time in constant memory, whatever `n` and the span are,
//! * exact integer arithmetic on 100 ns ticks, hence identical on every platform.

use super::template::Draw;

/// 100 ns ticks per hour.
const HOUR: i64 = 3_600 * 10_000_000;
const WEEK: i64 = 168 * HOUR;
/// 1970-01-05T00:00:00Z, the first Monday after the Unix epoch: hour 0 of a rhythm week.
const MONDAY: i64 = 4 * 24 * HOUR;

/// Activity weight per hour of the week.
#[derive(Debug, Clone)]
pub(super) struct Rhythm {
    weight: [i128; 168],
    /// `cumulative[h]`: the integral from the start of the week to the start of hour `h`.
    cumulative: [i128; 169],
}

impl Rhythm {
    /// `days[d] * hours[h]` is the weight of hour `h` of day `d` (Monday = 0). Every
    /// weight must be positive, so that the integral is strictly increasing and every
    /// instant stays reachable.
    pub fn new(days: [u32; 7], hours: [u32; 24]) -> Result<Self, String> {
        if days.contains(&0) || hours.contains(&0) {
            return Err("rhythm weights must be positive".into());
        }
        let mut weight = [0i128; 168];
        let mut cumulative = [0i128; 169];
        for h in 0..168 {
            weight[h] = i128::from(days[h / 24]) * i128::from(hours[h % 24]);
            cumulative[h + 1] = cumulative[h] + weight[h] * i128::from(HOUR);
        }
        Ok(Rhythm { weight, cumulative })
    }

    fn week_total(&self) -> i128 {
        self.cumulative[168]
    }

    /// `F(t)`: the weighted amount of time from the rhythm's epoch (a Monday) to `t`.
    fn integral(&self, t: i64) -> i128 {
        let since = i128::from(t) - i128::from(MONDAY);
        let weeks = since.div_euclid(i128::from(WEEK));
        let within = since.rem_euclid(i128::from(WEEK));
        let hour = (within / i128::from(HOUR)) as usize;
        weeks * self.week_total()
            + self.cumulative[hour]
            + self.weight[hour] * (within - hour as i128 * i128::from(HOUR))
    }

    /// The last tick `t` with `F(t) <= g`; then `F(t) <= g < F(t + 1)`.
    fn invert(&self, g: i128) -> i64 {
        let weeks = g.div_euclid(self.week_total());
        let within = g.rem_euclid(self.week_total());
        // The hour whose slice of the week's integral holds `within`.
        let hour = self.cumulative[1..].partition_point(|&c| c <= within);
        let into_hour = (within - self.cumulative[hour]) / self.weight[hour];
        let t = i128::from(MONDAY) + weeks * i128::from(WEEK) + hour as i128 * i128::from(HOUR) + into_hour;
        t as i64
    }
}

/// The times of `count` events in `[start, end)` (ticks), following a rhythm.
#[derive(Debug, Clone)]
pub(super) struct Schedule {
    rhythm: Rhythm,
    /// `F(start)`.
    origin: i128,
    count: u64,
    /// `W / count` and `W % count`, where `W = F(end) - F(start)`: slice `i` starts at
    /// `floor(W * i / count) = base * i + rem * i / count`, which never overflows.
    base: u128,
    rem: u128,
}

impl Schedule {
    /// `None` when the window is empty (`start >= end`).
    pub fn new(rhythm: &Rhythm, start: i64, end: i64, count: u64) -> Option<Self> {
        if start >= end || count == 0 {
            return None;
        }
        let origin = rhythm.integral(start);
        let total = (rhythm.integral(end) - origin) as u128;
        let n = u128::from(count);
        Some(Schedule { rhythm: rhythm.clone(), origin, count, base: total / n, rem: total % n })
    }

    fn slice_start(&self, i: u64) -> u128 {
        let i = u128::from(i);
        self.base * i + self.rem * i / u128::from(self.count)
    }

    /// The time of event `i` (`i < count`), drawing its position within its slice.
    pub fn time(&self, i: u64, rng: &mut impl Draw) -> i64 {
        let lo = self.slice_start(i);
        let width = self.slice_start(i + 1) - lo;
        let offset = match u64::try_from(width) {
            Ok(0) => 0,
            Ok(w) => u128::from(rng.below(w)),
            // Only for absurd spans (centuries with a handful of events): a slice wider
            // than 2^64 weighted ticks gets a coarser, still uniform, position.
            Err(_) => (width >> 64) * u128::from(rng.next_u64()),
        };
        self.rhythm.invert(self.origin + (lo + offset) as i128)
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::SplitMix;
    use super::*;

    fn flat() -> Rhythm {
        Rhythm::new([1; 7], [1; 24]).unwrap()
    }

    #[test]
    fn integral_and_inverse_agree() {
        let r = Rhythm::new(
            [5, 4, 3, 2, 1, 1, 1],
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        )
        .unwrap();
        for t in [-WEEK * 3 - 17, -1, 0, 1, MONDAY, MONDAY + HOUR * 37 + 12345, 17_000_000_000_000_000] {
            let g = r.integral(t);
            assert_eq!(r.invert(g), t);
            assert!(r.integral(t + 1) > g);
        }
    }

    #[test]
    fn times_stay_in_window_and_ascend() {
        let mut rng = SplitMix(3);
        for (start, end, count) in [(0, 1, 5), (10, 20, 1000), (-5 * WEEK, 7 * WEEK + 3, 10_000)] {
            let s = Schedule::new(&flat(), start, end, count).unwrap();
            let mut last = i64::MIN;
            for i in 0..count {
                let t = s.time(i, &mut rng);
                assert!((start..end).contains(&t), "{t} outside {start}..{end}");
                assert!(t >= last);
                last = t;
            }
        }
        assert!(Schedule::new(&flat(), 5, 5, 1).is_none());
    }
}
