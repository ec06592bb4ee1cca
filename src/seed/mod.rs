//! `auditgraph seed`: a deterministic, realistic Intune audit history.
//!
//! [`generate`] streams `count` [`AuditEvent`](crate::domain::AuditEvent)s between two
//! instants from a seed. The same arguments give byte-identical events (ids, times,
//! everything) on every platform: all randomness is one ChaCha8 stream keyed from the seed
//! and consumed through integer arithmetic only. Memory does not grow with `count`, and a
//! release build produces millions of events per second, so the stream can feed a bulk
//! import directly.
//!
//! What the events look like is data, not code: `catalogue.json` (read once, through
//! [`catalogue()`]) holds the 21 categories with their activities in Intune's
//! naming (`Create DeviceEnrollmentConfiguration`, `wipe ManagedDevice`, the Cloud PKI
//! activities…), the resource kinds with their `auditResourceType`s, name patterns and
//! properties, the admins, service principals and GDAP partners who act, and the weekly
//! rhythm of the tenant. [`activity_types`] answers `getAuditActivityTypes` from it.
//!
//! Realism the generator adds on top of the catalogue:
//! * times follow working hours and weekdays (UTC) and never decrease (`rhythm`);
//! * resources live: created, then patched, assigned and acted on, then perhaps deleted,
//!   so one `resourceId` recurs across a handful of events (`generator`);
//! * an admin often carries on in the same area, and on the object just touched;
//! * a small share of events fail, and a failed request changes nothing;
//! * Creates report every property with a null `oldValue`; patches report old → new.

mod bulk;
mod catalogue;
mod generator;
mod rhythm;
mod template;

#[cfg(test)]
mod tests;

pub use bulk::{BULK_BATCH, LoadProgress, bulk_load, quiet, seed_demo_if_empty, write_generated};
pub use catalogue::activity_types;
#[cfg(test)]
use catalogue::catalogue;
pub use generator::generate;

use chrono::{DateTime, Duration, Utc};

/// How many days before `to` the default range starts.
pub const SEEDED_DAYS: i64 = 364;

/// The default range of seeded events, `(from, to)`: `to` (when not given) is the
/// start of `now`'s UTC day, not `now` itself, so the same seed and count give the
/// same events all day long; `from` (when not given) is 364 days before `to`, so
/// that every event stays inside the default 365-day retention all day long (it
/// starts at `now` − 365 days, later than `to` − 365 days once the day has begun).
/// `seed`, the demo tenant and `/_auditgraph/reset` all take it (`now` is the
/// emulator's clock where there is one).
pub fn default_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = to.unwrap_or_else(|| now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc());
    (from.unwrap_or(to - Duration::days(SEEDED_DAYS)), to)
}
