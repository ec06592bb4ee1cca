//! The workload calls, below any door: authorise, validate, change the objects
//! and write the audit events of the change in one transaction (through
//! `audit::Recorder`, so subscribers see the events as soon as they commit).
//! Auditing has no switch: every successful mutating call here writes its
//! events, and a failed one returns before anything is staged or commits nothing.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::body::{self, Purpose};
use super::changes::{self, EventContext};
use super::error::WorkloadError;
use super::schema::{CreateRule, EntitySet, Owner};
use crate::audit::Recorder;
use crate::auth::Grant;
use crate::auth::Principal;
use crate::domain::format_graph_datetime;
use crate::domain::object::IntuneObject;

/// One call's context: who calls, when, under which correlation id, on which
/// API version.
pub struct Workloads<'a> {
    pub recorder: &'a Recorder,
    pub principal: &'a Principal,
    pub now: DateTime<Utc>,
    pub correlation_id: Uuid,
    pub beta: bool,
}

impl Workloads<'_> {
    /// Intune's URL for an object, as its 403 and 404 texts quote it.
    pub fn url(&self, set: &EntitySet, id: Option<&str>) -> String {
        let key = id.map(|id| format!("('{id}')")).unwrap_or_default();
        format!(
            "https://fef.msua01.manage.microsoft.com/{}/{}/{}{key}?api-version={}",
            set.service,
            set.singleton.segment(),
            set.segment,
            changes::API_VERSION
        )
    }

    pub(super) fn authorize(
        &self,
        set: &EntitySet,
        grant: &Grant,
        operation: &str,
        id: Option<&str>,
    ) -> Result<(), WorkloadError> {
        Ok(self.principal.authorize_grant(grant, operation, self.url(set, id))?)
    }

    pub(super) fn not_found(&self, set: &EntitySet, id: &str) -> WorkloadError {
        WorkloadError::NotFound { url: self.url(set, Some(id)) }
    }

    /// The events' shared fields. Intune records no client address for
    /// workload changes (every observed event has `ipAddress: null`).
    pub(super) fn context(&self) -> EventContext {
        EventContext {
            actor: crate::audit::caller_actor(self.principal, None),
            correlation_id: self.correlation_id,
            at: self.now,
        }
    }

    pub(super) fn stamp(&self) -> Value {
        Value::String(format_graph_datetime(self.now))
    }

    /// Every object of the set (the caller needs read permission).
    pub async fn list(&self, set: &EntitySet) -> Result<Vec<IntuneObject>, WorkloadError> {
        self.authorize(set, &set.read, "Read", None)?;
        let store = self.recorder.store();
        Ok(store.objects(set.segment).await?.into_iter().filter(|o| self.visible(set, o)).collect())
    }

    pub async fn get(&self, set: &EntitySet, id: &str) -> Result<IntuneObject, WorkloadError> {
        self.authorize(set, &set.read, "Read", Some(id))?;
        let found = self.recorder.store().object(set.segment, id).await?;
        found.filter(|o| self.visible(set, o)).ok_or_else(|| self.not_found(set, id))
    }

    /// Beta-only types do not exist on v1.0.
    fn visible(&self, set: &EntitySet, o: &IntuneObject) -> bool {
        self.beta || set.concrete(&o.odata_type).is_none_or(|t| !t.beta_only)
    }

    pub async fn create(&self, set: &EntitySet, body: &Value) -> Result<IntuneObject, WorkloadError> {
        self.authorize(set, &set.write, "Create", None)?;
        if !set.creatable {
            return Err(WorkloadError::NoRoute(format!(
                "No OData route exists that match template ~/singleton/navigation with http verb POST for request /{}/{}/{}.",
                set.service,
                set.singleton.segment(),
                set.segment
            )));
        }
        let body = body
            .as_object()
            .ok_or_else(|| WorkloadError::BadRequest("The request body must be a JSON object.".into()))?;
        let ty = body::create_type(set, body, self.beta)?;
        let props: Vec<_> = set.props_of(ty, self.beta).collect();
        let given = body::entity(&props, ty.name, body, Purpose::Create)?;
        let guid = Uuid::new_v4().to_string();
        let id = ty.id_suffix.map_or_else(|| guid.clone(), |s| format!("{guid}_{s}"));
        let mut document = Map::new();
        for prop in set.props_of(ty, true) {
            let value = match (prop.name, prop.owner) {
                ("id", _) => Value::String(id.clone()),
                ("createdDateTime" | "lastModifiedDateTime", Owner::Server) => self.stamp(),
                ("version", _) => Value::from(1),
                (name, _) => match ty.fixed.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => Value::String(v.to_string()),
                    None => given.get(name).cloned().unwrap_or_else(|| body::default_of(prop)),
                },
            };
            document.insert(prop.name.to_string(), value);
        }
        let mut object = IntuneObject {
            set: set.segment.into(),
            id,
            odata_type: ty.name.into(),
            version: 1,
            body: document,
        };
        let write = self.recorder.store().begin_objects().await?;
        self.create_rules(set, body, &mut object, &write).await?;
        write.insert(&object).await?;
        let properties = changes::create_properties(set, &object);
        let event = self.context().event(
            set,
            "Create",
            &set.declared(),
            vec![changes::resource(&object, properties)],
        );
        self.recorder.commit_objects(write, vec![event]).await?;
        Ok(object)
    }

    /// The rules some sets add to a create (intune-workloads.md §3).
    async fn create_rules(
        &self,
        set: &EntitySet,
        body: &Map<String, Value>,
        object: &mut IntuneObject,
        write: &crate::store::ObjectWrite<'_>,
    ) -> Result<(), WorkloadError> {
        match set.create_rule {
            CreateRule::None => {}
            CreateRule::ScheduledRules => {
                let rules = object.body.get_mut("scheduledActionsForRule").and_then(Value::as_array_mut);
                let rules = rules.map(std::mem::take).unwrap_or_default();
                let rules = super::actions::scheduled_rules(rules)?;
                object.body.insert("scheduledActionsForRule".into(), Value::Array(rules));
            }
            CreateRule::NextPriority => {
                // The next free priority after the others; the defaults keep 0.
                let others = write.objects(set.segment).await?;
                let top = others.iter().filter_map(|o| o.body.get("priority").and_then(Value::as_i64)).max();
                object.body.insert("priority".into(), Value::from(top.unwrap_or(0) + 1));
            }
            CreateRule::BindRoleDefinition => {
                let bind = body
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("roleDefinition@odata.bind"))
                    .and_then(|(_, v)| v.as_str())
                    .ok_or_else(|| {
                        WorkloadError::BadRequest(
                            "A role assignment needs roleDefinition@odata.bind naming its role definition."
                                .into(),
                        )
                    })?;
                let role_id = bound_id(bind).ok_or_else(|| {
                    WorkloadError::BadRequest(format!("'{bind}' does not name a role definition."))
                })?;
                if write.object("roleDefinitions", &role_id).await?.is_none() {
                    return Err(WorkloadError::BadRequest(format!(
                        "The role definition '{role_id}' does not exist."
                    )));
                }
                object.body.insert("roleDefinitionId".into(), Value::String(role_id));
            }
        }
        Ok(())
    }

    /// Reads an object inside a write, or the 404.
    pub(super) async fn current(
        &self,
        set: &EntitySet,
        id: &str,
        write: &crate::store::ObjectWrite<'_>,
    ) -> Result<IntuneObject, WorkloadError> {
        let found = write.object(set.segment, id).await?;
        found.filter(|o| self.visible(set, o)).ok_or_else(|| self.not_found(set, id))
    }

    pub async fn update(&self, set: &EntitySet, id: &str, body: &Value) -> Result<(), WorkloadError> {
        self.authorize(set, &set.write, "Update", Some(id))?;
        let body = body
            .as_object()
            .ok_or_else(|| WorkloadError::BadRequest("The request body must be a JSON object.".into()))?;
        let write = self.recorder.store().begin_objects().await?;
        let before = self.current(set, id, &write).await?;
        refuse_built_in(&before, "changed")?;
        let ty = set.concrete(&before.odata_type).unwrap_or(&set.types[0]);
        let props: Vec<_> = set.props_of(ty, self.beta).collect();
        let given = body::entity(&props, ty.name, body, Purpose::Update)?;
        let mut after = before.clone();
        after.body.extend(given);
        self.touch(&mut after);
        write.update(&after, before.version).await?;
        let properties = changes::patch_properties(set, &before, &after);
        let event =
            self.context().event(set, "Patch", &set.declared(), vec![changes::resource(&after, properties)]);
        self.recorder.commit_objects(write, vec![event]).await?;
        Ok(())
    }

    /// A change's bookkeeping: `lastModifiedDateTime`, `version` where the
    /// type has them, and the stored row's version.
    pub(super) fn touch(&self, object: &mut IntuneObject) {
        if object.body.contains_key("lastModifiedDateTime") {
            object.body.insert("lastModifiedDateTime".into(), self.stamp());
        }
        if let Some(v) = object.body.get("version").and_then(Value::as_i64) {
            object.body.insert("version".into(), Value::from(v + 1));
        }
        object.version += 1;
    }

    pub async fn delete(&self, set: &EntitySet, id: &str) -> Result<(), WorkloadError> {
        self.authorize(set, &set.write, "Delete", Some(id))?;
        let write = self.recorder.store().begin_objects().await?;
        let before = self.current(set, id, &write).await?;
        refuse_built_in(&before, "deleted")?;
        write.delete(set.segment, &before.id).await?;
        let event = self.context().event(
            set,
            "Delete",
            &set.declared(),
            vec![changes::resource(&before, Vec::new())],
        );
        self.recorder.commit_objects(write, vec![event]).await?;
        Ok(())
    }
}

/// Built-in roles and scope tags and the tenant's default enrollment
/// configurations are read-only.
pub(super) fn refuse_built_in(object: &IntuneObject, what: &str) -> Result<(), WorkloadError> {
    let built_in =
        object.body.get("isBuiltIn").and_then(Value::as_bool) == Some(true) || object.id.contains("_Default");
    if built_in {
        return Err(WorkloadError::BadRequest(format!(
            "The built-in object '{}' cannot be {what}.",
            object.id
        )));
    }
    Ok(())
}

/// The key in `…/roleDefinitions('<id>')` or `…/roleDefinitions/<id>`.
fn bound_id(url: &str) -> Option<String> {
    let tail = url.rsplit_once("roleDefinitions")?.1;
    let id =
        tail.trim_start_matches('/').trim_start_matches("('").trim_end_matches("')").trim_end_matches('/');
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}
