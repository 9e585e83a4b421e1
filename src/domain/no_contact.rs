//! The no-contact counter's arithmetic: the day a reader's no contact
//! began, checked against today, and where that puts them among the
//! coach's milestones. The date is never stored: the page computes this
//! once (without JavaScript) or the reader's own browser does
//! (`static/js/no-contact.js`, the same rules).
use chrono::{Datelike, NaiveDate};

/// The days the coach writes a line for, in order.
pub const MILESTONES: [u32; 5] = [7, 14, 30, 60, 90];

/// Why a date typed into the counter cannot be counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartProblem {
    /// Not a date written `YYYY-MM-DD` (or before 1900).
    Unreadable,
    /// Later than today.
    InTheFuture,
}

/// The day a reader's no contact began, not later than today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoContactStart(NaiveDate);

impl NoContactStart {
    /// Reads `YYYY-MM-DD` (what a date field sends), as of `today`.
    pub fn parse(text: &str, today: NaiveDate) -> Result<Self, StartProblem> {
        let text = text.trim();
        let plain = text.len() <= 10
            && text.split('-').count() == 3
            && text.chars().all(|c| c.is_ascii_digit() || c == '-');
        let date = plain
            .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .flatten()
            .filter(|d| d.year() >= 1900)
            .ok_or(StartProblem::Unreadable)?;
        if date > today {
            return Err(StartProblem::InTheFuture);
        }
        Ok(Self(date))
    }

    pub fn date(&self) -> NaiveDate {
        self.0
    }

    /// Days since the start, as of `today` (0 on the first day).
    pub fn days(&self, today: NaiveDate) -> i64 {
        (today - self.0).num_days().max(0)
    }
}

/// One milestone as the reader stands to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MilestoneState {
    Reached,
    /// The first one not reached yet.
    Next,
    Ahead,
}

/// Where `days` of no contact stand among the milestones: the state of
/// each (in [`MILESTONES`] order), and the next one with the days left.
pub fn progress(days: i64) -> (Vec<MilestoneState>, Option<(u32, i64)>) {
    let next = MILESTONES.iter().copied().find(|m| i64::from(*m) > days);
    let states = MILESTONES
        .iter()
        .map(|m| {
            if i64::from(*m) <= days {
                MilestoneState::Reached
            } else if Some(*m) == next {
                MilestoneState::Next
            } else {
                MilestoneState::Ahead
            }
        })
        .collect();
    (states, next.map(|m| (m, i64::from(m) - days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_start_is_a_real_date_not_after_today() {
        let today = day("2026-11-30");
        let start = NoContactStart::parse(" 2026-11-02 ", today).unwrap();
        assert_eq!(start.days(today), 28);
        assert_eq!(
            NoContactStart::parse("2026-11-30", today)
                .unwrap()
                .days(today),
            0
        );
        assert_eq!(
            NoContactStart::parse("2026-12-01", today),
            Err(StartProblem::InTheFuture)
        );
        for bad in [
            "",
            "yesterday",
            "2026-02-30",
            "02.11.2026",
            "1850-01-01",
            "+12026-01-01",
            "2026-11-02T00:00",
        ] {
            assert_eq!(
                NoContactStart::parse(bad, today),
                Err(StartProblem::Unreadable),
                "{bad}"
            );
        }
    }

    #[test]
    fn milestones_reached_next_and_ahead() {
        use MilestoneState::*;
        assert_eq!(
            progress(0),
            (vec![Next, Ahead, Ahead, Ahead, Ahead], Some((7, 7)))
        );
        assert_eq!(
            progress(7),
            (vec![Reached, Next, Ahead, Ahead, Ahead], Some((14, 7)))
        );
        assert_eq!(
            progress(29),
            (vec![Reached, Reached, Next, Ahead, Ahead], Some((30, 1)))
        );
        assert_eq!(progress(90), (vec![Reached; 5], None));
    }
}
