//! Conversion between the event model and table rows. The `*_ci` shadow columns
//! are computed here and nowhere else, with [`crate::domain::fold`].

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_actor_permission as permission, audit_event as event,
    audit_property as property, audit_resource as resource,
};
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};

use crate::domain::{
    AuditActor, AuditEvent, AuditProperty, AuditResource, RoleScopeTagInfo, Ticks, fold,
};

fn folded(value: &Option<String>) -> String {
    value.as_deref().map(fold).unwrap_or_default()
}

/// All rows of one event, ready to insert.
#[derive(Default)]
pub struct EventRows {
    pub events: Vec<event::ActiveModel>,
    pub actors: Vec<actor::ActiveModel>,
    pub permissions: Vec<permission::ActiveModel>,
    pub resources: Vec<resource::ActiveModel>,
    pub properties: Vec<property::ActiveModel>,
}

impl EventRows {
    pub fn push(&mut self, e: &AuditEvent) {
        self.events.push(event::ActiveModel {
            id: Set(e.id.clone()),
            id_ci: Set(fold(&e.id)),
            activity_ticks: Set(Ticks::from_datetime(e.activity_date_time).0),
            correlation_id: Set(e.correlation_id.hyphenated().to_string()),
            display_name: Set(e.display_name.clone()),
            display_name_ci: Set(folded(&e.display_name)),
            component_name: Set(e.component_name.clone()),
            component_name_ci: Set(folded(&e.component_name)),
            activity: Set(e.activity.clone()),
            activity_ci: Set(folded(&e.activity)),
            activity_type: Set(e.activity_type.clone()),
            activity_type_ci: Set(folded(&e.activity_type)),
            activity_operation_type: Set(e.activity_operation_type.clone()),
            activity_operation_type_ci: Set(folded(&e.activity_operation_type)),
            activity_result: Set(e.activity_result.clone()),
            activity_result_ci: Set(folded(&e.activity_result)),
            category: Set(e.category.clone()),
            category_ci: Set(folded(&e.category)),
        });
        if let Some(a) = &e.actor {
            self.actors.push(actor::ActiveModel {
                event_id: Set(e.id.clone()),
                actor_type: Set(a.actor_type.clone()),
                actor_type_ci: Set(folded(&a.actor_type)),
                application_id: Set(a.application_id.clone()),
                application_id_ci: Set(folded(&a.application_id)),
                application_display_name: Set(a.application_display_name.clone()),
                application_display_name_ci: Set(folded(&a.application_display_name)),
                user_principal_name: Set(a.user_principal_name.clone()),
                user_principal_name_ci: Set(folded(&a.user_principal_name)),
                service_principal_name: Set(a.service_principal_name.clone()),
                service_principal_name_ci: Set(folded(&a.service_principal_name)),
                ip_address: Set(a.ip_address.clone()),
                ip_address_ci: Set(folded(&a.ip_address)),
                user_id: Set(a.user_id.clone()),
                user_id_ci: Set(folded(&a.user_id)),
                remote_tenant_id: Set(a.remote_tenant_id.clone()),
                remote_tenant_id_ci: Set(folded(&a.remote_tenant_id)),
                remote_user_id: Set(a.remote_user_id.clone()),
                remote_user_id_ci: Set(folded(&a.remote_user_id)),
                user_role_scope_tags: Set(scope_tags_json(&a.user_role_scope_tags)),
            });
            for (ordinal, p) in a.user_permissions.iter().enumerate() {
                self.permissions.push(permission::ActiveModel {
                    event_id: Set(e.id.clone()),
                    ordinal: Set(ordinal as i32),
                    permission: Set(p.clone()),
                    permission_ci: Set(fold(p)),
                });
            }
        }
        for (r_ordinal, r) in e.resources.iter().enumerate() {
            self.resources.push(resource::ActiveModel {
                event_id: Set(e.id.clone()),
                ordinal: Set(r_ordinal as i32),
                display_name: Set(r.display_name.clone()),
                display_name_ci: Set(folded(&r.display_name)),
                resource_type: Set(r.resource_type.clone()),
                resource_type_ci: Set(folded(&r.resource_type)),
                resource_id: Set(r.resource_id.clone()),
                resource_id_ci: Set(folded(&r.resource_id)),
            });
            for (ordinal, p) in r.modified_properties.iter().enumerate() {
                self.properties.push(property::ActiveModel {
                    event_id: Set(e.id.clone()),
                    resource_ordinal: Set(r_ordinal as i32),
                    ordinal: Set(ordinal as i32),
                    display_name: Set(p.display_name.clone()),
                    display_name_ci: Set(folded(&p.display_name)),
                    old_value: Set(p.old_value.clone()),
                    old_value_ci: Set(folded(&p.old_value)),
                    new_value: Set(p.new_value.clone()),
                    new_value_ci: Set(folded(&p.new_value)),
                });
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

/// Reassembles events from their rows. Children must be sorted by event and ordinal
/// (the loaders order them so).
pub fn assemble(
    events: Vec<event::Model>,
    actors: Vec<actor::Model>,
    permissions: Vec<permission::Model>,
    resources: Vec<resource::Model>,
    properties: Vec<property::Model>,
) -> anyhow::Result<Vec<AuditEvent>> {
    use std::collections::HashMap;
    let mut actors: HashMap<String, AuditActor> = actors
        .into_iter()
        .map(|a| {
            let tags: Vec<ScopeTagRow> = serde_json::from_str(&a.user_role_scope_tags)
                .with_context(|| format!("corrupt userRoleScopeTags of event {}", a.event_id))?;
            Ok((
                a.event_id,
                AuditActor {
                    actor_type: a.actor_type,
                    user_permissions: Vec::new(),
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
    for p in permissions {
        if let Some(a) = actors.get_mut(&p.event_id) {
            a.user_permissions.push(p.permission);
        }
    }
    let mut resources_by_event: HashMap<String, Vec<AuditResource>> = HashMap::new();
    for r in resources {
        resources_by_event
            .entry(r.event_id)
            .or_default()
            .push(AuditResource {
                display_name: r.display_name,
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                modified_properties: Vec::new(),
            });
    }
    for p in properties {
        let slot = resources_by_event
            .get_mut(&p.event_id)
            .and_then(|rs| rs.get_mut(p.resource_ordinal as usize));
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
                actor: actors.remove(&e.id),
                resources: resources_by_event.remove(&e.id).unwrap_or_default(),
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
