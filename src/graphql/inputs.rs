//! Input types, and their conversion into what the rest of the crate already speaks:
//! the typed `where` filter becomes the same `odata::Filter` a `$filter` parses to
//! (so SQL translation, the in-memory evaluator and cursor binding are shared), and
//! mutation inputs become the Graph JSON body REST validates with
//! `domain::graph::{parse_event, patch_event}` (so messages and limits are shared).

use async_graphql::{Enum, InputObject, MaybeUndefined};
use serde::Serialize;

use crate::domain::Ticks;
use crate::domain::graph::{GraphDateTime, GraphGuid};
use crate::odata::{
    self, ActorField, Collection, CompareOp, EventField, Field, Filter, Literal, OrderKey, ResourceField,
    TextFunc,
};

/// Typed conditions on events; all that are given must hold. String comparisons are
/// case-insensitive, as in `$filter`.
#[derive(Debug, Clone, Default, InputObject)]
pub struct AuditEventFilter {
    /// `category eq …`
    pub category: Option<String>,
    /// `activityType eq …`
    pub activity_type: Option<String>,
    /// `activityOperationType eq …` (`Create`, `Delete`, `Patch`, …)
    pub activity_operation_type: Option<String>,
    /// `activityResult eq …` (`Success`, `Failure`, …)
    pub activity_result: Option<String>,
    /// `activityDateTime` within the range.
    pub activity_date_time: Option<DateTimeRange>,
    /// `actor/userPrincipalName eq …`
    pub actor_user_principal_name: Option<String>,
    /// `resources/any(r: r/resourceId eq …)`
    pub resource_id: Option<String>,
    /// The text occurs in `displayName`, `activity`, `activityType`, `componentName`
    /// or a target's `displayName`.
    pub text_contains: Option<String>,
}

/// A time range: `from` inclusive, `to` exclusive; either may be left open.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct DateTimeRange {
    pub from: Option<GraphDateTime>,
    pub to: Option<GraphDateTime>,
}

fn equals(field: Field, value: &str) -> Filter {
    Filter::Compare { field, op: CompareOp::Eq, value: Literal::String(value.to_string()) }
}

fn contains(field: Field, value: &str) -> Filter {
    Filter::Text { func: TextFunc::Contains, field, value: value.to_string() }
}

fn at(op: CompareOp, time: GraphDateTime) -> Filter {
    Filter::Compare {
        field: Field::Event(EventField::ActivityDateTime),
        op,
        value: Literal::DateTime(Ticks::from_datetime(time.0)),
    }
}

/// `a and b and …`; `None` for no terms.
fn all(terms: impl IntoIterator<Item = Filter>) -> Option<Filter> {
    terms.into_iter().reduce(|a, b| Filter::And(Box::new(a), Box::new(b)))
}

fn any(terms: impl IntoIterator<Item = Filter>) -> Option<Filter> {
    terms.into_iter().reduce(|a, b| Filter::Or(Box::new(a), Box::new(b)))
}

impl AuditEventFilter {
    /// The conditions as one `$filter` expression; `None` when none is given.
    pub fn to_filter(&self) -> Option<Filter> {
        let event = |f: EventField| Field::Event(f);
        let mut terms = Vec::new();
        for (field, value) in [
            (EventField::Category, &self.category),
            (EventField::ActivityType, &self.activity_type),
            (EventField::ActivityOperationType, &self.activity_operation_type),
            (EventField::ActivityResult, &self.activity_result),
        ] {
            if let Some(value) = value {
                terms.push(equals(event(field), value));
            }
        }
        if let Some(range) = &self.activity_date_time {
            terms.extend(range.from.map(|t| at(CompareOp::Ge, t)));
            terms.extend(range.to.map(|t| at(CompareOp::Lt, t)));
        }
        if let Some(upn) = &self.actor_user_principal_name {
            terms.push(equals(Field::Actor(ActorField::UserPrincipalName), upn));
        }
        if let Some(id) = &self.resource_id {
            terms.push(Filter::Any {
                collection: Collection::Resources,
                predicate: Some(Box::new(equals(Field::Resource(ResourceField::ResourceId), id))),
            });
        }
        if let Some(text) = &self.text_contains {
            let own = [
                EventField::DisplayName,
                EventField::Activity,
                EventField::ActivityType,
                EventField::ComponentName,
            ]
            .into_iter()
            .map(|f| contains(event(f), text));
            let target = Filter::Any {
                collection: Collection::Resources,
                predicate: Some(Box::new(contains(Field::Resource(ResourceField::DisplayName), text))),
            };
            terms.extend(any(own.chain(std::iter::once(target))));
        }
        all(terms)
    }
}

/// `filter` (OData text) and `where` (typed), both optional; when both are given an
/// event must match both.
pub fn combined_filter(
    filter: Option<&str>,
    typed: Option<&AuditEventFilter>,
) -> Result<Option<Filter>, odata::ODataError> {
    let parsed = match filter.map(str::trim).filter(|f| !f.is_empty()) {
        Some(text) => Some(odata::parse_filter(text)?),
        None => None,
    };
    Ok(all(parsed.into_iter().chain(typed.and_then(AuditEventFilter::to_filter))))
}

/// The event properties a connection can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AuditEventOrderField {
    Id,
    DisplayName,
    ComponentName,
    Activity,
    ActivityDateTime,
    ActivityType,
    ActivityOperationType,
    ActivityResult,
    CorrelationId,
    Category,
}

impl From<AuditEventOrderField> for EventField {
    fn from(f: AuditEventOrderField) -> Self {
        use AuditEventOrderField as O;
        match f {
            O::Id => EventField::Id,
            O::DisplayName => EventField::DisplayName,
            O::ComponentName => EventField::ComponentName,
            O::Activity => EventField::Activity,
            O::ActivityDateTime => EventField::ActivityDateTime,
            O::ActivityType => EventField::ActivityType,
            O::ActivityOperationType => EventField::ActivityOperationType,
            O::ActivityResult => EventField::ActivityResult,
            O::CorrelationId => EventField::CorrelationId,
            O::Category => EventField::Category,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderDirection {
    Asc,
    Desc,
}

/// One sort key, as `$orderby` has them (strings sort case-insensitively; `id` is
/// the hidden tiebreak).
#[derive(Debug, Clone, Copy, InputObject)]
pub struct AuditEventOrder {
    pub field: AuditEventOrderField,
    #[graphql(default_with = "OrderDirection::Asc")]
    pub direction: OrderDirection,
}

impl From<AuditEventOrder> for OrderKey {
    fn from(o: AuditEventOrder) -> Self {
        OrderKey { field: o.field.into(), descending: o.direction == OrderDirection::Desc }
    }
}

// Mutation inputs mirror Graph's request bodies member for member. `MaybeUndefined`
// keeps "absent" apart from `null`, which PATCH semantics need (null clears, absent
// keeps); serialising skips what is absent.

/// An auditEvent as a create or update body (REST POST/PATCH). On create,
/// `correlationId` defaults to the request's client request id and
/// `id`/`activityDateTime` to a new GUID and now; on update, objects merge member by member and lists replace.
#[derive(Debug, Clone, Default, InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventInput {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub id: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub display_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub component_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub actor: MaybeUndefined<AuditActorInput>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub activity: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub activity_date_time: MaybeUndefined<GraphDateTime>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub activity_type: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub activity_operation_type: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub activity_result: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub correlation_id: MaybeUndefined<GraphGuid>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub category: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub resources: MaybeUndefined<Vec<AuditResourceInput>>,
}

#[derive(Debug, Clone, Default, InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditActorInput {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub audit_actor_type: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub user_permissions: MaybeUndefined<Vec<String>>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub application_id: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub application_display_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub user_principal_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub service_principal_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub ip_address: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub user_id: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub remote_tenant_id: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub remote_user_id: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub user_role_scope_tags: MaybeUndefined<Vec<RoleScopeTagInfoInput>>,
}

#[derive(Debug, Clone, Default, InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleScopeTagInfoInput {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub display_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub role_scope_tag_id: MaybeUndefined<String>,
}

#[derive(Debug, Clone, Default, InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditResourceInput {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub display_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub audit_resource_type: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub resource_id: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub modified_properties: MaybeUndefined<Vec<AuditPropertyInput>>,
}

#[derive(Debug, Clone, Default, InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPropertyInput {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub display_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub old_value: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub new_value: MaybeUndefined<String>,
}

impl AuditEventInput {
    /// The Graph JSON body this input stands for.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an input always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::parse_datetime;

    fn parsed(text: &str) -> Filter {
        odata::parse_filter(text).expect("valid $filter")
    }

    #[test]
    fn typed_filters_are_the_odata_they_stand_for() {
        let typed = AuditEventFilter {
            category: Some("Device".into()),
            activity_result: Some("Failure".into()),
            actor_user_principal_name: Some("o'neil@contoso.com".into()),
            resource_id: Some("r-1".into()),
            ..Default::default()
        };
        assert_eq!(
            typed.to_filter(),
            Some(parsed(
                "category eq 'Device' and activityResult eq 'Failure' and actor/userPrincipalName eq 'o''neil@contoso.com' and resources/any(r: r/resourceId eq 'r-1')"
            ))
        );

        let from = GraphDateTime(parse_datetime("2026-01-01T00:00:00Z").unwrap());
        let to = GraphDateTime(parse_datetime("2026-02-01T12:30:00.1234567Z").unwrap());
        let range = AuditEventFilter {
            activity_date_time: Some(DateTimeRange { from: Some(from), to: Some(to) }),
            ..Default::default()
        };
        assert_eq!(
            range.to_filter(),
            Some(parsed(
                "activityDateTime ge 2026-01-01T00:00:00Z and activityDateTime lt 2026-02-01T12:30:00.1234567Z"
            ))
        );

        let text = AuditEventFilter { text_contains: Some("wipe".into()), ..Default::default() };
        assert_eq!(
            text.to_filter(),
            Some(parsed(
                "contains(displayName,'wipe') or contains(activity,'wipe') or contains(activityType,'wipe') or contains(componentName,'wipe') or resources/any(r: contains(r/displayName,'wipe'))"
            ))
        );
        assert_eq!(AuditEventFilter::default().to_filter(), None);
    }

    #[test]
    fn filter_and_where_combine_with_and() {
        let typed = AuditEventFilter { category: Some("Role".into()), ..Default::default() };
        assert_eq!(
            combined_filter(Some("activityResult eq 'Success'"), Some(&typed)).unwrap(),
            Some(parsed("activityResult eq 'Success' and category eq 'Role'"))
        );
        assert_eq!(combined_filter(Some("  "), None).unwrap(), None);
        let error = combined_filter(Some("nope eq 1"), None).unwrap_err();
        assert!(error.message.starts_with("Invalid filter clause: "));
    }

    #[test]
    fn inputs_serialise_as_graph_bodies() {
        let input = AuditEventInput {
            display_name: MaybeUndefined::Null,
            activity_date_time: MaybeUndefined::Value(GraphDateTime(
                parse_datetime("2024-07-22T22:17:09.7552025Z").unwrap(),
            )),
            actor: MaybeUndefined::Value(AuditActorInput {
                ip_address: MaybeUndefined::Value("10.0.0.7".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            input.to_json(),
            serde_json::json!({"displayName": null, "activityDateTime": "2024-07-22T22:17:09.7552025Z", "actor": {"ipAddress": "10.0.0.7"}})
        );
    }
}
