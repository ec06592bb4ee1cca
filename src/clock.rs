//! "Now" for everything that depends on it (default event times, retention), so
//! tests and the emulator controls can freeze or shift it.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, Default)]
enum Mode {
    #[default]
    System,
    Offset(Duration),
    Frozen(DateTime<Utc>),
}

#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<RwLock<Mode>>);

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let mode = *self.0.read().unwrap_or_else(|e| e.into_inner());
        match mode {
            Mode::System => Utc::now(),
            Mode::Offset(offset) => Utc::now() + offset,
            Mode::Frozen(at) => at,
        }
    }

    pub fn freeze(&self, at: DateTime<Utc>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Mode::Frozen(at);
    }

    pub fn offset(&self, by: Duration) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Mode::Offset(by);
    }

    pub fn reset(&self) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Mode::System;
    }
}
