//! Intune's throttling of auditEvents (spec graph-audit-events.md §6): per tenant
//! for all apps and per app per tenant, any request and writes (POST, PUT, PATCH,
//! DELETE) separately, over sliding windows of 20 seconds.
//!
//! Each bucket keeps the times of the requests it admitted in the current window;
//! a request is admitted when every bucket it belongs to has room, and then
//! counts in all of them. A refused request counts nowhere, and its wait is the
//! time until the fullest bucket frees a slot. Time is the emulator clock, so a
//! frozen clock makes limits exact and `POST /_auditgraph/clock` can move past a
//! window without sleeping (while frozen, windows never roll over by themselves).
//!
//! Counters live in this process only: instances sharing a database throttle
//! independently.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{RetryAfterMode, ThrottleFormat, Throttled};

/// Requests per window (Intune's documented numbers, before scaling).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Any request, all apps of a tenant together.
    pub tenant_any: u32,
    /// Any request, one app in one tenant.
    pub app_any: u32,
    /// POST, PUT, PATCH, DELETE, all apps of a tenant together.
    pub tenant_write: u32,
    /// POST, PUT, PATCH, DELETE, one app in one tenant.
    pub app_write: u32,
}

impl Limits {
    pub const INTUNE: Limits = Limits { tenant_any: 2000, app_any: 1000, tenant_write: 200, app_write: 100 };

    fn scaled(self, scale: f64) -> Limits {
        // At least one request per window: a limit of zero would be an outage, not throttling.
        let s = |n: u32| ((f64::from(n) * scale).round() as u32).max(1);
        Limits {
            tenant_any: s(self.tenant_any),
            app_any: s(self.app_any),
            tenant_write: s(self.tenant_write),
            app_write: s(self.app_write),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleConfig {
    pub enabled: bool,
    pub scale: f64,
    pub window_seconds: u64,
    pub format: ThrottleFormat,
    pub retry_after: RetryAfterMode,
    pub enforce_retry_after: bool,
    /// The limits before scaling.
    pub limits: Limits,
}

/// A partial update (`PATCH /_auditgraph/throttling`): absent fields stay.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThrottlePatch {
    pub enabled: Option<bool>,
    pub scale: Option<f64>,
    pub window_seconds: Option<u64>,
    pub format: Option<ThrottleFormat>,
    pub retry_after: Option<RetryAfterMode>,
    pub enforce_retry_after: Option<bool>,
    pub limits: Option<LimitsPatch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitsPatch {
    pub tenant_any: Option<u32>,
    pub app_any: Option<u32>,
    pub tenant_write: Option<u32>,
    pub app_write: Option<u32>,
}

impl ThrottleConfig {
    /// The limits in force: the base numbers times the scale.
    pub fn effective(&self) -> Limits {
        self.limits.scaled(self.scale)
    }

    fn apply(&mut self, patch: ThrottlePatch) -> Result<(), String> {
        if let Some(scale) = patch.scale {
            if !(scale.is_finite() && scale > 0.0) {
                return Err(format!("scale must be a positive number, not {scale}"));
            }
            self.scale = scale;
        }
        if let Some(secs) = patch.window_seconds {
            if !(1..=3600).contains(&secs) {
                return Err(format!("windowSeconds must be between 1 and 3600, not {secs}"));
            }
            self.window_seconds = secs;
        }
        if let Some(l) = patch.limits {
            let set = |slot: &mut u32, value: Option<u32>| value.map(|v| *slot = v.max(1));
            set(&mut self.limits.tenant_any, l.tenant_any);
            set(&mut self.limits.app_any, l.app_any);
            set(&mut self.limits.tenant_write, l.tenant_write);
            set(&mut self.limits.app_write, l.app_write);
        }
        self.enabled = patch.enabled.unwrap_or(self.enabled);
        self.format = patch.format.unwrap_or(self.format);
        self.retry_after = patch.retry_after.unwrap_or(self.retry_after);
        self.enforce_retry_after = patch.enforce_retry_after.unwrap_or(self.enforce_retry_after);
        Ok(())
    }
}

/// Who is calling, as far as throttling cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub tenant: String,
    pub app: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bucket {
    Tenant { tenant: String, writes: bool },
    App { caller: Caller, writes: bool },
}

pub struct Throttle {
    clock: Clock,
    state: Mutex<State>,
    /// The cluster's limiter (Redis, or a shared database), when there is one.
    shared: Option<super::limiter::SharedLimiter>,
    /// When the shared limiter last failed (its warning is not repeated within a minute).
    shared_failed: Mutex<Option<std::time::Instant>>,
}

struct State {
    config: ThrottleConfig,
    windows: HashMap<Bucket, VecDeque<DateTime<Utc>>>,
    /// Until when each throttled app must wait (used when enforcing Retry-After).
    waits: HashMap<Caller, DateTime<Utc>>,
}

impl Throttle {
    pub fn new(
        clock: Clock,
        config: ThrottleConfig,
        shared: Option<super::limiter::SharedLimiter>,
    ) -> Throttle {
        Throttle {
            clock,
            state: Mutex::new(State { config, windows: HashMap::new(), waits: HashMap::new() }),
            shared,
            shared_failed: Mutex::new(None),
        }
    }

    /// Admits the request (and counts it) or says how long to wait: in the
    /// cluster's limiter when one is configured, else in this process. A
    /// limiter that fails is skipped for this process's own windows, with a
    /// warning: never a 5xx.
    pub async fn admit(&self, caller: &Caller, write: bool) -> Option<Throttled> {
        let Some(shared) = &self.shared else {
            return self.check(caller, write);
        };
        let (config, now) = (self.config(), self.clock.now());
        if !config.enabled {
            return None;
        }
        let limits = config.effective();
        let key = |scope: &str, writes: bool| {
            format!("auditgraph:throttle:{}:{scope}:{}", caller.tenant, if writes { "write" } else { "any" })
        };
        let mut buckets =
            vec![(key("*", false), limits.tenant_any), (key(&caller.app, false), limits.app_any)];
        if write {
            buckets.push((key("*", true), limits.tenant_write));
            buckets.push((key(&caller.app, true), limits.app_write));
        }
        let window_ms = config.window_seconds as i64 * 1000;
        match shared.admit(&buckets, now.timestamp_millis(), window_ms).await {
            Ok(0) => None,
            Ok(wait_ms) => Some(Throttled {
                wait: Duration::milliseconds(wait_ms),
                early_retry: false,
                format: config.format,
                retry_after: config.retry_after,
            }),
            Err(e) => {
                let mut failed = self.shared_failed.lock().unwrap_or_else(|e| e.into_inner());
                if failed.is_none_or(|at| at.elapsed() > std::time::Duration::from_secs(60)) {
                    tracing::warn!(error = %format!("{e:#}"), "the shared throttling limiter failed: throttling in this process only until it is back");
                    *failed = Some(std::time::Instant::now());
                }
                drop(failed);
                self.check(caller, write)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> ThrottleConfig {
        self.lock().config.clone()
    }

    /// Changes the settings; counters restart so the new limits apply from now.
    pub fn update(&self, patch: ThrottlePatch) -> Result<ThrottleConfig, String> {
        let mut state = self.lock();
        state.config.apply(patch)?;
        state.windows.clear();
        state.waits.clear();
        Ok(state.config.clone())
    }

    /// Replaces the settings wholesale (reset to the start-up flags).
    pub fn replace(&self, config: ThrottleConfig) {
        let mut state = self.lock();
        state.config = config;
        state.windows.clear();
        state.waits.clear();
    }

    /// Admits the request (and counts it), or says how long to wait.
    pub fn check(&self, caller: &Caller, write: bool) -> Option<Throttled> {
        let now = self.clock.now();
        let mut state = self.lock();
        let config = state.config.clone();
        if !config.enabled {
            return None;
        }
        let window = Duration::seconds(config.window_seconds as i64);
        let refuse = |wait: Duration, early_retry: bool| Throttled {
            wait,
            early_retry,
            format: config.format,
            retry_after: config.retry_after,
        };

        if config.enforce_retry_after
            && let Some(until) = state.waits.get(caller).copied()
        {
            // A wait far in the future is left over from a clock moved backwards.
            if now < until && until - now <= window {
                // Retried too early: the wait starts over, for a whole window.
                state.waits.insert(caller.clone(), now + window);
                return Some(refuse(window, true));
            }
            state.waits.remove(caller);
        }

        let limits = config.effective();
        let mut buckets = vec![
            (Bucket::Tenant { tenant: caller.tenant.clone(), writes: false }, limits.tenant_any),
            (Bucket::App { caller: caller.clone(), writes: false }, limits.app_any),
        ];
        if write {
            buckets
                .push((Bucket::Tenant { tenant: caller.tenant.clone(), writes: true }, limits.tenant_write));
            buckets.push((Bucket::App { caller: caller.clone(), writes: true }, limits.app_write));
        }
        let mut wait: Option<Duration> = None;
        for (bucket, limit) in &buckets {
            let log = state.windows.entry(bucket.clone()).or_default();
            // Entries after `now` are left over from a clock moved backwards.
            log.retain(|t| *t <= now && *t + window > now);
            let limit = *limit as usize;
            if log.len() >= limit {
                let frees_at = log[log.len() - limit] + window;
                wait = Some(wait.map_or(frees_at - now, |w| w.max(frees_at - now)));
            }
        }
        if let Some(wait) = wait {
            if config.enforce_retry_after {
                state.waits.insert(caller.clone(), now + wait);
            }
            return Some(refuse(wait, false));
        }
        for (bucket, _) in buckets {
            state.windows.entry(bucket).or_default().push_back(now);
        }
        None
    }
}
