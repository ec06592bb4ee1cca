//! Conversion between the event model and table rows. The `*_ci` shadow columns
//! are computed here and nowhere else, with [`crate::domain::fold`].

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_event as event, audit_permission_set as permission_set,
    audit_property as property, audit_resource as resource,
};
use sea_orm::{DerivePartialModel, Value};
use serde::{Deserialize, Serialize};

use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, RoleScopeTagInfo, Ticks, fold};

fn text(value: &Option<String>) -> Value {
    Value::String(value.clone())
}

fn folded(value: &Option<String>) -> Value {
    Value::String(Some(value.as_deref().map(fold).unwrap_or_default()))
}

fn int(value: usize) -> Value {
    Value::Int(Some(value as i32))
}

/// One table's rows, flattened: values in `columns` order, row after row. Built
/// straight from the model (no ActiveModel per row: on a bulk load that
/// conversion cost as much as the database).
pub struct TableRows<C: 'static> {
    pub columns: &'static [C],
    pub values: Vec<Value>,
    /// Rows whose key is stored already are left as they are (for
    /// content-addressed rows, which are then identical) instead of failing.
    pub keep_stored: bool,
    /// Columns the INSERT returns for each row it wrote (none by default).
    pub returning: &'static [C],
}

impl<C> TableRows<C> {
    fn new(columns: &'static [C]) -> Self {
        TableRows { columns, values: Vec::new(), keep_stored: false, returning: &[] }
    }

    fn with_room(columns: &'static [C], rows: usize) -> Self {
        TableRows {
            columns,
            values: Vec::with_capacity(rows * columns.len()),
            keep_stored: false,
            returning: &[],
        }
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.columns.len()
    }
}

pub const EVENT_COLUMNS: &[event::Column] = {
    use event::Column as E;
    &[
        E::Id,
        E::IdCi,
        E::ActivityTicks,
        E::CorrelationId,
        E::DisplayName,
        E::DisplayNameCi,
        E::ComponentName,
        E::ComponentNameCi,
        E::Activity,
        E::ActivityCi,
        E::ActivityType,
        E::ActivityTypeCi,
        E::ActivityOperationType,
        E::ActivityOperationTypeCi,
        E::ActivityResult,
        E::ActivityResultCi,
        E::Category,
        E::CategoryCi,
    ]
};

const ACTOR_COLUMNS: &[actor::Column] = {
    use actor::Column as A;
    &[
        A::EventSeq,
        A::ActorType,
        A::ActorTypeCi,
        A::ApplicationId,
        A::ApplicationIdCi,
        A::ApplicationDisplayName,
        A::ApplicationDisplayNameCi,
        A::UserPrincipalName,
        A::UserPrincipalNameCi,
        A::ServicePrincipalName,
        A::ServicePrincipalNameCi,
        A::IpAddress,
        A::IpAddressCi,
        A::UserId,
        A::UserIdCi,
        A::RemoteTenantId,
        A::RemoteTenantIdCi,
        A::RemoteUserId,
        A::RemoteUserIdCi,
        A::UserRoleScopeTags,
        A::PermissionSet,
    ]
};

const PERMISSION_SET_COLUMNS: &[permission_set::Column] = {
    use permission_set::Column as P;
    &[P::PermissionSet, P::Ordinal, P::Permission, P::PermissionCi]
};

/// The `audit_permission_sets` key of a permission list: a fingerprint of its
/// entries in order (none for an empty list).
fn permission_set_key(permissions: &[String]) -> Option<String> {
    use sha2::Digest;
    if permissions.is_empty() {
        return None;
    }
    let mut hash = sha2::Sha256::new();
    for p in permissions {
        // Length-prefixed, so no two lists share a byte stream.
        hash.update((p.len() as u64).to_le_bytes());
        hash.update(p.as_bytes());
    }
    let digest = hash.finalize();
    let bytes = &digest[..entities::PERMISSION_SET_LEN as usize / 2];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    Some(
        bytes
            .iter()
            .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
            .map(char::from)
            .collect(),
    )
}

const RESOURCE_COLUMNS: &[resource::Column] = {
    use resource::Column as R;
    &[
        R::EventSeq,
        R::Ordinal,
        R::DisplayName,
        R::DisplayNameCi,
        R::ResourceType,
        R::ResourceTypeCi,
        R::ResourceId,
        R::ResourceIdCi,
    ]
};

const PROPERTY_COLUMNS: &[property::Column] = {
    use property::Column as M;
    &[
        M::EventSeq,
        M::ResourceOrdinal,
        M::Ordinal,
        M::DisplayName,
        M::DisplayNameCi,
        M::OldValue,
        M::OldValueCi,
        M::NewValue,
        M::NewValueCi,
    ]
};

/// The `audit_events` rows of some events (their `seq` is assigned by the database).
pub fn event_rows(events: &[AuditEvent]) -> TableRows<event::Column> {
    let mut rows = TableRows::with_room(EVENT_COLUMNS, events.len());
    for e in events {
        rows.values.extend([
            Value::String(Some(e.id.clone())),
            Value::String(Some(fold(&e.id))),
            Value::BigInt(Some(Ticks::from_datetime(e.activity_date_time).0)),
            Value::String(Some(e.correlation_id.hyphenated().to_string())),
            text(&e.display_name),
            folded(&e.display_name),
            text(&e.component_name),
            folded(&e.component_name),
            text(&e.activity),
            folded(&e.activity),
            text(&e.activity_type),
            folded(&e.activity_type),
            text(&e.activity_operation_type),
            folded(&e.activity_operation_type),
            text(&e.activity_result),
            folded(&e.activity_result),
            text(&e.category),
            folded(&e.category),
        ]);
    }
    rows
}

/// The child rows of stored events: actor, resources, properties, and the
/// permission sets not known to be stored.
pub struct ChildRows<'a> {
    pub actors: TableRows<actor::Column>,
    pub permission_sets: TableRows<permission_set::Column>,
    pub resources: TableRows<resource::Column>,
    pub properties: TableRows<property::Column>,
    /// Sets stored already, and those these rows add (`new_permission_sets`).
    stored_sets: &'a std::collections::HashSet<String>,
    pub new_permission_sets: std::collections::HashSet<String>,
}

impl<'a> ChildRows<'a> {
    /// Child rows for `events`, with room for all of them reserved up front (a
    /// batch's values run to tens of megabytes; growing by doubling copied them).
    pub fn new(events: &[AuditEvent], stored_sets: &'a std::collections::HashSet<String>) -> Self {
        let (mut actors, mut resources, mut properties) = (0, 0, 0);
        for e in events {
            actors += usize::from(e.actor.is_some());
            resources += e.resources.len();
            properties += e.resources.iter().map(|r| r.modified_properties.len()).sum::<usize>();
        }
        ChildRows {
            actors: TableRows::with_room(ACTOR_COLUMNS, actors),
            permission_sets: TableRows { keep_stored: true, ..TableRows::new(PERMISSION_SET_COLUMNS) },
            resources: TableRows::with_room(RESOURCE_COLUMNS, resources),
            properties: TableRows::with_room(PROPERTY_COLUMNS, properties),
            stored_sets,
            new_permission_sets: Default::default(),
        }
    }

    /// Adds the children of the event stored under `seq`.
    pub fn push(&mut self, seq: i64, e: &AuditEvent) {
        let key = || Value::BigInt(Some(seq));
        if let Some(a) = &e.actor {
            let set = permission_set_key(&a.user_permissions);
            self.actors.values.extend([
                key(),
                text(&a.actor_type),
                folded(&a.actor_type),
                text(&a.application_id),
                folded(&a.application_id),
                text(&a.application_display_name),
                folded(&a.application_display_name),
                text(&a.user_principal_name),
                folded(&a.user_principal_name),
                text(&a.service_principal_name),
                folded(&a.service_principal_name),
                text(&a.ip_address),
                folded(&a.ip_address),
                text(&a.user_id),
                folded(&a.user_id),
                text(&a.remote_tenant_id),
                folded(&a.remote_tenant_id),
                text(&a.remote_user_id),
                folded(&a.remote_user_id),
                Value::String(Some(scope_tags_json(&a.user_role_scope_tags))),
                Value::String(set.clone()),
            ]);
            if let Some(set) = set
                && !self.stored_sets.contains(&set)
                && !self.new_permission_sets.contains(&set)
            {
                for (ordinal, p) in a.user_permissions.iter().enumerate() {
                    self.permission_sets.values.extend([
                        Value::String(Some(set.clone())),
                        int(ordinal),
                        Value::String(Some(p.clone())),
                        Value::String(Some(fold(p))),
                    ]);
                }
                self.new_permission_sets.insert(set);
            }
        }
        for (r_ordinal, r) in e.resources.iter().enumerate() {
            self.resources.values.extend([
                key(),
                int(r_ordinal),
                text(&r.display_name),
                folded(&r.display_name),
                text(&r.resource_type),
                folded(&r.resource_type),
                text(&r.resource_id),
                folded(&r.resource_id),
            ]);
            for (ordinal, p) in r.modified_properties.iter().enumerate() {
                self.properties.values.extend([
                    key(),
                    int(r_ordinal),
                    int(ordinal),
                    text(&p.display_name),
                    folded(&p.display_name),
                    text(&p.old_value),
                    folded(&p.old_value),
                    text(&p.new_value),
                    folded(&p.new_value),
                ]);
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeTagRow {
    display_name: Option<String>,
    role_scope_tag_id: Option<String>,
}

fn scope_tags_json(tags: &[RoleScopeTagInfo]) -> String {
    let rows: Vec<ScopeTagRow> = tags
        .iter()
        .map(|t| ScopeTagRow {
            display_name: t.display_name.clone(),
            role_scope_tag_id: t.role_scope_tag_id.clone(),
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
}

/// What a read fetches of each table: the values, never their folded shadows,
/// which only filters need (and which would double the text a page decodes).
#[derive(DerivePartialModel)]
#[sea_orm(entity = "event::Entity")]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub activity_ticks: i64,
    pub correlation_id: String,
    pub display_name: Option<String>,
    pub component_name: Option<String>,
    pub activity: Option<String>,
    pub activity_type: Option<String>,
    pub activity_operation_type: Option<String>,
    pub activity_result: Option<String>,
    pub category: Option<String>,
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "actor::Entity")]
pub struct ActorRow {
    pub event_seq: i64,
    pub actor_type: Option<String>,
    pub application_id: Option<String>,
    pub application_display_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub service_principal_name: Option<String>,
    pub ip_address: Option<String>,
    pub user_id: Option<String>,
    pub remote_tenant_id: Option<String>,
    pub remote_user_id: Option<String>,
    pub user_role_scope_tags: String,
    pub permission_set: Option<String>,
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "permission_set::Entity")]
pub struct PermissionRow {
    pub permission_set: String,
    pub permission: String,
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "resource::Entity")]
pub struct ResourceRow {
    pub event_seq: i64,
    pub display_name: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "property::Entity")]
pub struct PropertyRow {
    pub event_seq: i64,
    pub resource_ordinal: i32,
    pub display_name: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// Reassembles events from their rows. Children must be sorted by event and ordinal
/// (the loaders order them so).
pub fn assemble(
    events: Vec<EventRow>,
    actors: Vec<ActorRow>,
    permissions: Vec<PermissionRow>,
    resources: Vec<ResourceRow>,
    properties: Vec<PropertyRow>,
) -> anyhow::Result<Vec<AuditEvent>> {
    use std::collections::HashMap;
    let mut sets: HashMap<String, Vec<String>> = HashMap::new();
    for p in permissions {
        sets.entry(p.permission_set).or_default().push(p.permission);
    }
    let mut actors: HashMap<i64, AuditActor> = actors
        .into_iter()
        .map(|a| {
            let tags: Vec<ScopeTagRow> = serde_json::from_str(&a.user_role_scope_tags)
                .with_context(|| format!("corrupt userRoleScopeTags of event #{}", a.event_seq))?;
            Ok((
                a.event_seq,
                AuditActor {
                    actor_type: a.actor_type,
                    user_permissions: match &a.permission_set {
                        None => Vec::new(),
                        Some(set) => sets
                            .get(set)
                            .with_context(|| {
                                format!("permission set {set} of event #{} is missing", a.event_seq)
                            })?
                            .clone(),
                    },
                    application_id: a.application_id,
                    application_display_name: a.application_display_name,
                    user_principal_name: a.user_principal_name,
                    service_principal_name: a.service_principal_name,
                    ip_address: a.ip_address,
                    user_id: a.user_id,
                    remote_tenant_id: a.remote_tenant_id,
                    remote_user_id: a.remote_user_id,
                    user_role_scope_tags: tags
                        .into_iter()
                        .map(|t| RoleScopeTagInfo {
                            display_name: t.display_name,
                            role_scope_tag_id: t.role_scope_tag_id,
                        })
                        .collect(),
                },
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut resources_by_event: HashMap<i64, Vec<AuditResource>> = HashMap::new();
    for r in resources {
        resources_by_event.entry(r.event_seq).or_default().push(AuditResource {
            display_name: r.display_name,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            modified_properties: Vec::new(),
        });
    }
    for p in properties {
        let slot =
            resources_by_event.get_mut(&p.event_seq).and_then(|rs| rs.get_mut(p.resource_ordinal as usize));
        if let Some(r) = slot {
            r.modified_properties.push(AuditProperty {
                display_name: p.display_name,
                old_value: p.old_value,
                new_value: p.new_value,
            });
        }
    }
    events
        .into_iter()
        .map(|e| {
            let correlation_id = uuid::Uuid::parse_str(&e.correlation_id)
                .with_context(|| format!("corrupt correlationId of event {}", e.id))?;
            Ok(AuditEvent {
                actor: actors.remove(&e.seq),
                resources: resources_by_event.remove(&e.seq).unwrap_or_default(),
                display_name: e.display_name,
                component_name: e.component_name,
                activity: e.activity,
                activity_date_time: Ticks(e.activity_ticks).to_datetime(),
                activity_type: e.activity_type,
                activity_operation_type: e.activity_operation_type,
                activity_result: e.activity_result,
                correlation_id,
                category: e.category,
                id: e.id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::permission_set_key;

    fn key(list: &[&str]) -> Option<String> {
        permission_set_key(&list.iter().map(|p| p.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn permission_set_keys_name_contents_in_order() {
        assert_eq!(key(&[]), None);
        let star = key(&["*"]).unwrap();
        assert_eq!(star.len(), entities::PERMISSION_SET_LEN as usize);
        assert!(star.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // Stored keys must never change meaning: SHA-256 over length-prefixed entries.
        assert_eq!(star, "cdc83b3646f81308d00fc9e4e611b98e");
        assert_ne!(key(&["a", "b"]), key(&["b", "a"]), "order matters");
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]), "entries do not run together");
        assert_ne!(key(&["*"]), key(&["*", "*"]));
    }
}
