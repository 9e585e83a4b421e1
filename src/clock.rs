//! The time, as the application sees it. Production reads the system
//! clock; tests move it forward to check timeouts without waiting.
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

#[derive(Clone, Default, Debug)]
pub struct Clock {
    /// Seconds added to the system time.
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// The time as stored in the database (UTC, microseconds).
    pub fn now_naive(&self) -> NaiveDateTime {
        let now = self.now().naive_utc();
        now - Duration::nanoseconds(i64::from(now.and_utc().timestamp_subsec_nanos() % 1000))
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_seconds
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}
