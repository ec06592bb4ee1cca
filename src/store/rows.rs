//! Conversion between the event model and table rows. The `*_ci` shadow columns
//! are computed here and nowhere else, with [`crate::domain::fold`].
//!
//! Writes go domain → the entities' `Model`s → bound values, in the entities'
//! column order: a new column is one line of a `Model` literal here. Reads go the
//! other way through partial models that leave the shadows out (see [`EventRow`]).

use std::collections::HashSet;
use std::sync::LazyLock;

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_event as event, audit_permission_set as permission_set,
    audit_property as property, audit_resource as resource,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DerivePartialModel, EntityTrait, IdenStatic, Iterable, ModelTrait,
    PrimaryKeyToColumn, PrimaryKeyTrait, Value,
};
use serde::{Deserialize, Serialize};

use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, RoleScopeTagInfo, Ticks, fold};

/// The `*_ci` shadow of a nullable value: folded, '' for NULL.
fn folded(value: &Option<String>) -> String {
    value.as_deref().map(fold).unwrap_or_default()
}

/// One table's rows, flattened: values in `columns` order, row after row, ready to
/// bind into the cached multi-row INSERTs. Each row comes from the table's entity
/// `Model`, its values moved out through its `ActiveModel` (`take`, no copies).
/// SeaORM's own `insert_many` of ActiveModels, which builds the statement anew,
/// cost as much as the database on a bulk load; the `take`s cost ~3% of building
/// the rows (instructions counted with callgrind), under 1% of a load.
pub struct TableRows<C: 'static> {
    pub columns: &'static [C],
    pub values: Vec<Value>,
    /// Rows whose key is stored already are left as they are (for
    /// content-addressed rows, which are then identical) instead of failing.
    pub keep_stored: bool,
    /// Columns the INSERT returns for each row it wrote (none by default).
    pub returning: &'static [C],
}

impl<C: ColumnTrait> TableRows<C> {
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

    /// Appends a row: `model`'s values, in `columns` order.
    fn push<M>(&mut self, model: M)
    where
        M: ModelTrait,
        M::Entity: EntityTrait<Column = C>,
        <M::Entity as EntityTrait>::ActiveModel: From<M>,
    {
        let mut row = <M::Entity as EntityTrait>::ActiveModel::from(model);
        let columns = self.columns;
        self.values.extend(
            columns.iter().map(|c| row.take(*c).into_value().expect("a whole model has every column set")),
        );
    }
}

/// The columns an INSERT into `E` names: every column of the entity, in its
/// order, but an auto-increment key, which the database assigns.
fn insert_columns<E: EntityTrait>() -> Vec<E::Column> {
    let assigned: Vec<E::Column> = if <E::PrimaryKey as PrimaryKeyTrait>::auto_increment() {
        E::PrimaryKey::iter().map(|k| k.into_column()).collect()
    } else {
        Vec::new()
    };
    E::Column::iter().filter(|c| !assigned.iter().any(|a| a.as_str() == c.as_str())).collect()
}

static EVENT_COLUMNS: LazyLock<Vec<event::Column>> = LazyLock::new(insert_columns::<event::Entity>);
static ACTOR_COLUMNS: LazyLock<Vec<actor::Column>> = LazyLock::new(insert_columns::<actor::Entity>);
static PERMISSION_SET_COLUMNS: LazyLock<Vec<permission_set::Column>> =
    LazyLock::new(insert_columns::<permission_set::Entity>);
static RESOURCE_COLUMNS: LazyLock<Vec<resource::Column>> = LazyLock::new(insert_columns::<resource::Entity>);
static PROPERTY_COLUMNS: LazyLock<Vec<property::Column>> = LazyLock::new(insert_columns::<property::Entity>);

// The domain → row conversions. Each names every field of its domain type (the
// `let` patterns have no `..`) and every column of its entity (the `Model`
// literals), so a field added to either fails to compile until it is stored.

/// The `audit_events` row of `e`. Its `seq` is assigned by the database: the
/// INSERT leaves it out (see [`insert_columns`]).
fn event_model(e: &AuditEvent) -> event::Model {
    let AuditEvent {
        id,
        display_name,
        component_name,
        actor: _,
        activity,
        activity_date_time,
        activity_type,
        activity_operation_type,
        activity_result,
        correlation_id,
        category,
        resources: _,
    } = e;
    event::Model {
        seq: 0,
        id: id.clone(),
        id_ci: fold(id),
        activity_ticks: Ticks::from_datetime(*activity_date_time).0,
        correlation_id: correlation_id.hyphenated().to_string(),
        display_name: display_name.clone(),
        display_name_ci: folded(display_name),
        component_name: component_name.clone(),
        component_name_ci: folded(component_name),
        activity: activity.clone(),
        activity_ci: folded(activity),
        activity_type: activity_type.clone(),
        activity_type_ci: folded(activity_type),
        activity_operation_type: activity_operation_type.clone(),
        activity_operation_type_ci: folded(activity_operation_type),
        activity_result: activity_result.clone(),
        activity_result_ci: folded(activity_result),
        category: category.clone(),
        category_ci: folded(category),
    }
}

/// The `audit_actors` row of the actor of event `seq`, whose permissions are the
/// list `permission_set` names.
fn actor_model(seq: i64, a: &AuditActor, permission_set: Option<String>) -> actor::Model {
    let AuditActor {
        actor_type,
        user_permissions: _,
        application_id,
        application_display_name,
        user_principal_name,
        service_principal_name,
        ip_address,
        user_id,
        remote_tenant_id,
        remote_user_id,
        user_role_scope_tags,
    } = a;
    actor::Model {
        event_seq: seq,
        actor_type: actor_type.clone(),
        actor_type_ci: folded(actor_type),
        application_id: application_id.clone(),
        application_id_ci: folded(application_id),
        application_display_name: application_display_name.clone(),
        application_display_name_ci: folded(application_display_name),
        user_principal_name: user_principal_name.clone(),
        user_principal_name_ci: folded(user_principal_name),
        service_principal_name: service_principal_name.clone(),
        service_principal_name_ci: folded(service_principal_name),
        ip_address: ip_address.clone(),
        ip_address_ci: folded(ip_address),
        user_id: user_id.clone(),
        user_id_ci: folded(user_id),
        remote_tenant_id: remote_tenant_id.clone(),
        remote_tenant_id_ci: folded(remote_tenant_id),
        remote_user_id: remote_user_id.clone(),
        remote_user_id_ci: folded(remote_user_id),
        permission_set,
        user_role_scope_tags: scope_tags_json(user_role_scope_tags),
    }
}

/// The `audit_resources` row of target `ordinal` of event `seq`.
fn resource_model(seq: i64, ordinal: usize, r: &AuditResource) -> resource::Model {
    let AuditResource { display_name, resource_type, resource_id, modified_properties: _ } = r;
    resource::Model {
        event_seq: seq,
        ordinal: ordinal as i32,
        display_name: display_name.clone(),
        display_name_ci: folded(display_name),
        resource_type: resource_type.clone(),
        resource_type_ci: folded(resource_type),
        resource_id: resource_id.clone(),
        resource_id_ci: folded(resource_id),
    }
}

/// The `audit_properties` row of property `ordinal` of target `resource_ordinal`
/// of event `seq`.
fn property_model(seq: i64, resource_ordinal: usize, ordinal: usize, p: &AuditProperty) -> property::Model {
    let AuditProperty { display_name, old_value, new_value } = p;
    property::Model {
        event_seq: seq,
        resource_ordinal: resource_ordinal as i32,
        ordinal: ordinal as i32,
        display_name: display_name.clone(),
        display_name_ci: folded(display_name),
        old_value: old_value.clone(),
        old_value_ci: folded(old_value),
        new_value: new_value.clone(),
        new_value_ci: folded(new_value),
    }
}

/// The `audit_permission_sets` row of entry `ordinal` of list `set`.
fn permission_model(set: &str, ordinal: usize, permission: &str) -> permission_set::Model {
    permission_set::Model {
        permission_set: set.to_owned(),
        ordinal: ordinal as i32,
        permission: permission.to_owned(),
        permission_ci: fold(permission),
    }
}

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

/// The `audit_events` rows of some events (their `seq` is assigned by the database).
pub fn event_rows(events: &[AuditEvent]) -> TableRows<event::Column> {
    let mut rows = TableRows::with_room(&EVENT_COLUMNS, events.len());
    for e in events {
        rows.push(event_model(e));
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
    stored_sets: &'a HashSet<String>,
    pub new_permission_sets: HashSet<String>,
}

impl<'a> ChildRows<'a> {
    /// Child rows for `events`, with room for all of them reserved up front (a
    /// batch's values run to tens of megabytes; growing by doubling copied them).
    pub fn new(events: &[AuditEvent], stored_sets: &'a HashSet<String>) -> Self {
        let (mut actors, mut resources, mut properties) = (0, 0, 0);
        for e in events {
            actors += usize::from(e.actor.is_some());
            resources += e.resources.len();
            properties += e.resources.iter().map(|r| r.modified_properties.len()).sum::<usize>();
        }
        ChildRows {
            actors: TableRows::with_room(&ACTOR_COLUMNS, actors),
            permission_sets: TableRows { keep_stored: true, ..TableRows::new(&PERMISSION_SET_COLUMNS) },
            resources: TableRows::with_room(&RESOURCE_COLUMNS, resources),
            properties: TableRows::with_room(&PROPERTY_COLUMNS, properties),
            stored_sets,
            new_permission_sets: Default::default(),
        }
    }

    /// Adds the children of the event stored under `seq`.
    pub fn push(&mut self, seq: i64, e: &AuditEvent) {
        if let Some(a) = &e.actor {
            let set = permission_set_key(&a.user_permissions);
            if let Some(set) = &set
                && !self.stored_sets.contains(set)
                && !self.new_permission_sets.contains(set)
            {
                for (ordinal, p) in a.user_permissions.iter().enumerate() {
                    self.permission_sets.push(permission_model(set, ordinal, p));
                }
                self.new_permission_sets.insert(set.clone());
            }
            self.actors.push(actor_model(seq, a, set));
        }
        for (r_ordinal, r) in e.resources.iter().enumerate() {
            self.resources.push(resource_model(seq, r_ordinal, r));
            for (ordinal, p) in r.modified_properties.iter().enumerate() {
                self.properties.push(property_model(seq, r_ordinal, ordinal, p));
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
/// which only filters need (and which would double the text a page decodes). This
/// is why reads do not decode the entities' `Model`s, which have every column.
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
