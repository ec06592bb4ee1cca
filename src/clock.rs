//! "Now" for everything that depends on it (default event times, retention,
//! throttling windows), so tests and the emulator controls can freeze or shift it.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

/// How "now" is derived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClockMode {
    #[default]
    System,
    Offset(Duration),
    Frozen(DateTime<Utc>),
}

#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<RwLock<ClockMode>>);

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let mode = *self.0.read().unwrap_or_else(|e| e.into_inner());
        match mode {
            ClockMode::System => Utc::now(),
            ClockMode::Offset(offset) => Utc::now() + offset,
            ClockMode::Frozen(at) => at,
        }
    }

    pub fn freeze(&self, at: DateTime<Utc>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = ClockMode::Frozen(at);
    }

    pub fn offset(&self, by: Duration) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = ClockMode::Offset(by);
    }

    pub fn mode(&self) -> ClockMode {
        *self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves now by `by`, keeping the mode: a frozen clock stays frozen.
    pub fn advance(&self, by: Duration) {
        let mut mode = self.0.write().unwrap_or_else(|e| e.into_inner());
        *mode = match *mode {
            ClockMode::System => ClockMode::Offset(by),
            ClockMode::Offset(offset) => ClockMode::Offset(offset + by),
            ClockMode::Frozen(at) => ClockMode::Frozen(at + by),
        };
    }

    pub fn set_mode(&self, mode: ClockMode) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    pub fn reset(&self) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = ClockMode::System;
    }
}
