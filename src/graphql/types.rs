//! The GraphQL shape of the event model: Graph's types and camelCase field names,
//! built by pure conversion from `domain` (as the REST shapes are). The actor and
//! resources carry every stored field, beta's included; the v1.0/beta `type` aliases
//! are left out (they duplicate `auditActorType`/`auditResourceType`).

use async_graphql::{ID, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};

use crate::domain::graph::{datetime_expected, parse_datetime};
use crate::domain::{self, format_graph_datetime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

/// An instant in UTC at 100 ns precision, in Graph's wire form
/// (`2024-07-22T22:17:09.7552025Z`). Input accepts any RFC 3339 offset and fraction.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => parse_datetime(text)
                .map(DateTime)
                .ok_or_else(|| InputValueError::custom(datetime_expected(text))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format_graph_datetime(self.0))
    }
}

impl serde::Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_graph_datetime(self.0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uuid(pub uuid::Uuid);

/// A GUID in its hyphenated form (`21e86a8c-3010-46a8-86b5-4580e432ff52`).
#[Scalar(name = "UUID")]
impl ScalarType for Uuid {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => uuid::Uuid::parse_str(text)
                .map(Uuid)
                .map_err(|_| InputValueError::custom(format!("'{text}' is not an Edm.Guid."))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.hyphenated().to_string())
    }
}

impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.hyphenated().to_string())
    }
}

/// An Intune audit event (`microsoft.graph.auditEvent`).
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AuditEvent")]
pub struct Event {
    pub id: ID,
    /// Event display name.
    pub display_name: Option<String>,
    /// Component name.
    pub component_name: Option<String>,
    /// Who performed the activity.
    pub actor: Option<Actor>,
    /// Friendly name of the activity.
    pub activity: Option<String>,
    /// When the activity was performed (UTC).
    pub activity_date_time: DateTime,
    /// The type of activity that was performed.
    pub activity_type: Option<String>,
    /// The HTTP operation type of the activity.
    pub activity_operation_type: Option<String>,
    /// The result of the activity.
    pub activity_result: Option<String>,
    /// The client request id, used to correlate activity within the system.
    pub correlation_id: Uuid,
    /// Audit category.
    pub category: Option<String>,
    /// The targets of the activity, in order.
    pub resources: Vec<Resource>,
}

/// Who performed the activity (`microsoft.graph.auditActor`).
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AuditActor")]
pub struct Actor {
    /// Actor type (`ItPro`, `Application`, `Partner`, …).
    pub audit_actor_type: Option<String>,
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
#[derive(Debug, Clone, SimpleObject)]
pub struct RoleScopeTagInfo {
    pub display_name: Option<String>,
    pub role_scope_tag_id: Option<String>,
}

/// A target of the activity (`microsoft.graph.auditResource`).
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AuditResource")]
pub struct Resource {
    pub display_name: Option<String>,
    /// Resource type.
    pub audit_resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// The properties the activity changed.
    pub modified_properties: Vec<Property>,
}

/// One changed property of a target (`microsoft.graph.auditProperty`).
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AuditProperty")]
pub struct Property {
    pub display_name: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

impl From<&domain::AuditEvent> for Event {
    fn from(e: &domain::AuditEvent) -> Self {
        Event {
            id: ID(e.id.clone()),
            display_name: e.display_name.clone(),
            component_name: e.component_name.clone(),
            actor: e.actor.as_ref().map(Actor::from),
            activity: e.activity.clone(),
            activity_date_time: DateTime(e.activity_date_time),
            activity_type: e.activity_type.clone(),
            activity_operation_type: e.activity_operation_type.clone(),
            activity_result: e.activity_result.clone(),
            correlation_id: Uuid(e.correlation_id),
            category: e.category.clone(),
            resources: e.resources.iter().map(Resource::from).collect(),
        }
    }
}

impl From<&domain::AuditActor> for Actor {
    fn from(a: &domain::AuditActor) -> Self {
        Actor {
            audit_actor_type: a.actor_type.clone(),
            user_permissions: a.user_permissions.clone(),
            application_id: a.application_id.clone(),
            application_display_name: a.application_display_name.clone(),
            user_principal_name: a.user_principal_name.clone(),
            service_principal_name: a.service_principal_name.clone(),
            ip_address: a.ip_address.clone(),
            user_id: a.user_id.clone(),
            remote_tenant_id: a.remote_tenant_id.clone(),
            remote_user_id: a.remote_user_id.clone(),
            user_role_scope_tags: a
                .user_role_scope_tags
                .iter()
                .map(|t| RoleScopeTagInfo {
                    display_name: t.display_name.clone(),
                    role_scope_tag_id: t.role_scope_tag_id.clone(),
                })
                .collect(),
        }
    }
}

impl From<&domain::AuditResource> for Resource {
    fn from(r: &domain::AuditResource) -> Self {
        Resource {
            display_name: r.display_name.clone(),
            audit_resource_type: r.resource_type.clone(),
            resource_id: r.resource_id.clone(),
            modified_properties: r
                .modified_properties
                .iter()
                .map(|p| Property {
                    display_name: p.display_name.clone(),
                    old_value: p.old_value.clone(),
                    new_value: p.new_value.clone(),
                })
                .collect(),
        }
    }
}
