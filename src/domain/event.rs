//! The audit event model: what an Intune audit event *is*, independent of any wire
//! shape or table layout. Every door (REST, GraphQL, CLI) and every store speaks it;
//! the GraphQL door serves it as it is (its object types are derived here).
//!
//! Invariants: `activity_date_time` is UTC with at most 100 ns precision (Graph's 7
//! fractional digits), so it round-trips exactly through every backend and every
//! shape. Construct timestamps through [`Ticks`] or [`truncate_to_ticks`].

use async_graphql::SimpleObject;
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::graph::{GraphDateTime, GraphGuid};

// The model is also the GraphQL door's output type: `SimpleObject` derives the
// schema from these structs, so their `///` comments are the schema's descriptions
// (schema/auditgraph.graphql) and notes for Rust readers only are `//`. Attributes
// give Graph's name where it is not the field's (`auditActorType`), and serve the
// three fields with a scalar of their own (`ID`, `DateTime`, `UUID`) through
// `skip` + `derived`, which keeps each in its place in the schema.

/// An Intune audit event (`microsoft.graph.auditEvent`).
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct AuditEvent {
    #[graphql(skip, derived(owned, name = "id", into = "async_graphql::ID", with = "async_graphql::ID"))]
    pub id: String,
    /// Event display name.
    pub display_name: Option<String>,
    /// Component name.
    pub component_name: Option<String>,
    /// Who performed the activity.
    pub actor: Option<AuditActor>,
    /// Friendly name of the activity.
    pub activity: Option<String>,
    /// When the activity was performed (UTC).
    #[graphql(
        skip,
        derived(owned, name = "activity_date_time", into = "GraphDateTime", with = "GraphDateTime")
    )]
    pub activity_date_time: DateTime<Utc>,
    /// The type of activity that was performed.
    pub activity_type: Option<String>,
    /// The HTTP operation type of the activity.
    pub activity_operation_type: Option<String>,
    /// The result of the activity.
    pub activity_result: Option<String>,
    /// The client request id, used to correlate activity within the system.
    #[graphql(skip, derived(owned, name = "correlation_id", into = "GraphGuid", with = "GraphGuid"))]
    pub correlation_id: Uuid,
    /// Audit category.
    pub category: Option<String>,
    /// The targets of the activity, in order.
    // Graph declares the collection nullable; an absent collection and an empty
    // one are both stored and served as `[]`.
    pub resources: Vec<AuditResource>,
}

/// Who performed the activity (`microsoft.graph.auditActor`).
// The beta-only fields (`remote_*`, `user_role_scope_tags`) are stored always and
// serialised on beta only (GraphQL serves them always).
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleObject)]
pub struct AuditActor {
    /// Actor type (`ItPro`, `Application`, `Partner`, …).
    // `auditActorType` on v1.0; beta also mirrors it as `type`.
    #[graphql(name = "auditActorType")]
    pub actor_type: Option<String>,
    /// The user's permissions when the activity was performed.
    pub user_permissions: Vec<String>,
    pub application_id: Option<String>,
    pub application_display_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub service_principal_name: Option<String>,
    pub ip_address: Option<String>,
    pub user_id: Option<String>,
    /// Remote tenant id (beta).
    pub remote_tenant_id: Option<String>,
    /// Remote user id (beta).
    pub remote_user_id: Option<String>,
    /// The user's scope tags (beta).
    pub user_role_scope_tags: Vec<RoleScopeTagInfo>,
}

/// A scope tag of the acting user (`microsoft.graph.roleScopeTagInfo`).
// Beta only on the Graph surface.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleObject)]
pub struct RoleScopeTagInfo {
    pub display_name: Option<String>,
    pub role_scope_tag_id: Option<String>,
}

/// A target of the activity (`microsoft.graph.auditResource`).
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleObject)]
pub struct AuditResource {
    pub display_name: Option<String>,
    /// Resource type.
    // `auditResourceType` on v1.0; beta also mirrors it as `type`.
    #[graphql(name = "auditResourceType")]
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// The properties the activity changed.
    pub modified_properties: Vec<AuditProperty>,
}

/// One changed property of a target (`microsoft.graph.auditProperty`).
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleObject)]
pub struct AuditProperty {
    pub display_name: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// A point in time as a count of 100 ns ticks since the Unix epoch: Graph's
/// precision, and the storage form on every backend (a BIGINT sorts and indexes
/// the same everywhere, which no shared timestamp type does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticks(pub i64);

impl Ticks {
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        let secs = at.timestamp();
        let sub = i64::from(at.timestamp_subsec_nanos()) / 100;
        Ticks(secs * 10_000_000 + sub)
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        let secs = self.0.div_euclid(10_000_000);
        let nanos = (self.0.rem_euclid(10_000_000) * 100) as u32;
        Utc.timestamp_opt(secs, nanos).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Drops precision below 100 ns, the finest Graph (and auditgraph) keeps.
pub fn truncate_to_ticks(at: DateTime<Utc>) -> DateTime<Utc> {
    Ticks::from_datetime(at).to_datetime()
}

/// Graph's wire form of a DateTimeOffset: UTC, exactly 7 fractional digits, `Z`.
pub fn format_graph_datetime(at: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let ticks = Ticks::from_datetime(at).0.rem_euclid(10_000_000);
    // Fields, not a strftime pattern: a pattern is parsed again on every call.
    let (date, time) = (at.date_naive(), at.time());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{ticks:07}Z",
        date.year(),
        date.month(),
        date.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// Case folding used for every case-insensitive comparison, in SQL (through the
/// stored `*_ci` shadow columns) and in memory alike.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The one rule on text from outside, whatever the door or the backend: no NUL
/// character (U+0000). PostgreSQL cannot hold one in text (a 500 there, where the
/// other backends stored it), so it is refused with a 400 where text enters: body
/// properties (`graph`, so imported records too), `$filter` literals (`odata`'s
/// lexer), URL segments (`rest::path`) and GraphQL values (`graphql::limits`).
/// `what` names the text in the message.
pub fn refuse_nul(text: &str, what: impl FnOnce() -> String) -> Result<(), String> {
    if text.contains('\0') {
        Err(format!("{} contains a NUL character (U+0000), which no Graph text can hold.", what()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_trip_keeps_100ns() {
        let at = DateTime::parse_from_rfc3339("2024-07-22T22:17:09.7552025Z").unwrap().with_timezone(&Utc);
        let ticks = Ticks::from_datetime(at);
        assert_eq!(ticks.to_datetime(), at);
        assert_eq!(format_graph_datetime(at), "2024-07-22T22:17:09.7552025Z");
    }

    #[test]
    fn truncation_drops_below_100ns_and_handles_pre_epoch() {
        let at = Utc.timestamp_opt(-1, 123_456_789).unwrap();
        let t = truncate_to_ticks(at);
        assert_eq!(t.timestamp_subsec_nanos(), 123_456_700);
        assert_eq!(t.timestamp(), -1);
        assert_eq!(format_graph_datetime(Utc.timestamp_opt(0, 0).unwrap()), "1970-01-01T00:00:00.0000000Z");
    }
}
