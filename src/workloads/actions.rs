//! The bound actions: `assign` (which diffs the old and new assignment sets and
//! audits each difference), `scheduleActionsForRules`, `setPriority` and the
//! managed devices' remote actions (intune-workloads.md §2.5–2.7, §3).

use serde_json::{Map, Value};
use uuid::Uuid;

use super::body;
use super::catalogue::SCHEDULED_RULE;
use super::changes::{self, Leaves};
use super::error::WorkloadError;
use super::schema::{Action, Assignments, Effect, EntitySet, Grammar, Kind, Prop, p};
use super::service::{Workloads, refuse_built_in};
use crate::domain::AuditEvent;
use crate::domain::object::IntuneObject;

/// The virtual groups' ids, which name assignments to all devices / all users.
const ALL_DEVICES: &str = "adadadad-808e-44e2-905a-0b7873a8a531";
const ALL_USERS: &str = "acacacac-9df4-4c7d-9d50-4ef0226f57a9";

/// What an action answers: nothing (204) or `{"value": […]}` (200).
pub enum Answer {
    NoContent,
    Value(Vec<Value>),
}

/// Checks compliance rules: exactly one `block` action among them (§3.1).
pub fn scheduled_rules(rules: Vec<Value>) -> Result<Vec<Value>, WorkloadError> {
    let list = Prop {
        name: "scheduledActionsForRule",
        kind: Kind::ComplexList(SCHEDULED_RULE),
        beta: false,
        owner: super::schema::Owner::Client,
    };
    let checked = body::value_of(&list, &Value::Array(rules))?;
    let mut rules = checked.as_array().cloned().unwrap_or_default();
    let blocks = rules
        .iter()
        .flat_map(|r| {
            r.get("scheduledActionConfigurations").and_then(Value::as_array).cloned().unwrap_or_default()
        })
        .filter(|c| c.get("actionType").and_then(Value::as_str) == Some("block"))
        .count();
    if blocks != 1 {
        return Err(WorkloadError::BadRequest(
            "Compliance policy must have one and only one block scheduled action".into(),
        ));
    }
    for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
        rule.insert("id".into(), Value::String(Uuid::new_v4().to_string()));
    }
    Ok(rules)
}

/// The identity of an assignment: its target's type and group.
fn target_key(assignment: &Map<String, Value>) -> (String, String) {
    let target = assignment.get("target").and_then(Value::as_object);
    let field = |name: &str| {
        target.and_then(|t| t.get(name)).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase()
    };
    (field("@odata.type"), field("groupId"))
}

impl Workloads<'_> {
    pub async fn action(
        &self,
        set: &EntitySet,
        id: &str,
        name: &str,
        body: &Value,
    ) -> Result<Answer, WorkloadError> {
        let action = set.action(name).ok_or_else(|| {
            WorkloadError::BadRequest(format!("Resource not found for the segment '{name}'."))
        })?;
        match action.grant {
            Some(grant) => self.authorize(set, &grant, "", Some(id))?,
            None => {
                let operation = if action.effect == Effect::Assign { "Assign" } else { "Update" };
                self.authorize(set, &set.write, operation, Some(id))?
            }
        }
        let empty = Map::new();
        let body = match body {
            Value::Null => &empty,
            Value::Object(map) => map,
            _ => return Err(WorkloadError::BadRequest("The request body must be a JSON object.".into())),
        };
        match action.effect {
            Effect::Assign => self.assign(set, id, body).await,
            Effect::ScheduleActions => self.schedule_actions(set, id, body).await.map(|_| Answer::NoContent),
            Effect::SetPriority => self.set_priority(set, action, id, body).await.map(|_| Answer::NoContent),
            Effect::DeviceAction(state) => {
                self.device_action(set, action, id, body, state).await.map(|_| Answer::NoContent)
            }
        }
    }

    /// The assignments an `assign` body names, checked, with ids.
    fn requested_assignments(
        &self,
        kind: &Assignments,
        parent: &IntuneObject,
        body: &Map<String, Value>,
    ) -> Result<Vec<Map<String, Value>>, WorkloadError> {
        let mut items: Vec<Value> = Vec::new();
        for (key, value) in body {
            if key.eq_ignore_ascii_case(kind.parameter) {
                items.extend(
                    value
                        .as_array()
                        .cloned()
                        .ok_or_else(|| WorkloadError::BadRequest(format!("'{key}' must be an array.")))?,
                );
            } else if key.eq_ignore_ascii_case("deviceManagementScriptGroupAssignments")
                && kind.parameter == "deviceManagementScriptAssignments"
            {
                for group in value.as_array().cloned().unwrap_or_default() {
                    let group_id = group.get("targetGroupId").cloned().unwrap_or(Value::Null);
                    items.push(serde_json::json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group_id}}));
                }
            } else {
                return Err(WorkloadError::BadRequest(format!(
                    "The parameter '{key}' in the request payload is not a valid parameter for the operation 'assign'."
                )));
            }
        }
        let stored = parent.body.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut out: Vec<Map<String, Value>> = Vec::new();
        for item in items {
            let item = item
                .as_object()
                .ok_or_else(|| WorkloadError::ModelValidation("An assignment must be an object.".into()))?;
            let mut assignment = Map::new();
            assignment.insert(
                "target".into(),
                Value::Object(body::target(item.get("target").unwrap_or(&Value::Null))?),
            );
            for (key, value) in item {
                if key == "target" || key == "id" || key.starts_with('@') {
                    continue;
                }
                let prop = kind.props.iter().find(|p| p.name.eq_ignore_ascii_case(key)).ok_or_else(|| {
                    WorkloadError::ModelValidation(format!("The property '{key}' does not exist on type 'microsoft.management.services.api.{}'. Make sure to only use property names that are defined by the type.", kind.odata_type))
                })?;
                if prop.owner != super::schema::Owner::Server {
                    assignment.insert(prop.name.into(), body::value_of(prop, value)?);
                }
            }
            for prop in kind.props {
                let value = match prop.name {
                    "source" => Value::String("direct".into()),
                    "sourceId" => Value::String(parent.id.clone()),
                    _ => assignment.get(prop.name).cloned().unwrap_or_else(|| body::default_of(prop)),
                };
                assignment.insert(prop.name.into(), value);
            }
            let key = target_key(&assignment);
            if out.iter().any(|a| target_key(a) == key) {
                return Err(WorkloadError::BadRequest("The same target is assigned twice.".into()));
            }
            let existing = stored.iter().filter_map(Value::as_object).find(|a| target_key(a) == key);
            let id = match existing.and_then(|a| a.get("id")).and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None if kind.parent_keyed => {
                    let group = match key.0.as_str() {
                        "#microsoft.graph.alldevicesassignmenttarget" => ALL_DEVICES.to_string(),
                        "#microsoft.graph.alllicensedusersassignmenttarget" => ALL_USERS.to_string(),
                        _ => key.1.clone(),
                    };
                    format!("{}_{group}", parent.id)
                }
                None => Uuid::new_v4().to_string(),
            };
            let mut with_id = Map::new();
            with_id.insert("id".into(), Value::String(id));
            with_id.extend(assignment);
            out.push(with_id);
        }
        Ok(out)
    }

    async fn assign(
        &self,
        set: &EntitySet,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Answer, WorkloadError> {
        let kind = set
            .assignments
            .as_ref()
            .ok_or_else(|| WorkloadError::BadRequest("This object has no assignments.".into()))?;
        let write = self.recorder.store().begin_objects().await?;
        let before = self.current(set, id, &write).await?;
        let new = self.requested_assignments(kind, &before, body)?;
        let old: Vec<Map<String, Value>> = before
            .body
            .get("assignments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_object().cloned())
            .collect();
        let mut after = before.clone();
        after
            .body
            .insert("assignments".into(), Value::Array(new.iter().cloned().map(Value::Object).collect()));
        if after.body.contains_key("isAssigned") {
            after.body.insert("isAssigned".into(), Value::Bool(!new.is_empty()));
        }
        after.version += 1;
        write.update(&after, before.version).await?;
        let events = match set.grammar {
            Grammar::CamelVerb => vec![self.script_assign_event(set, &after, &new)],
            Grammar::Standard => self.assignment_events(set, kind, &after, &old, &new),
        };
        self.recorder.commit_objects(write, events).await?;
        let value = super::shape::assignments_json(kind, &after, self.beta);
        Ok(if kind.returns_value { Answer::Value(value) } else { Answer::NoContent })
    }

    /// One event per assignment added, removed or changed; the unchanged write nothing.
    fn assignment_events(
        &self,
        set: &EntitySet,
        kind: &Assignments,
        parent: &IntuneObject,
        old: &[Map<String, Value>],
        new: &[Map<String, Value>],
    ) -> Vec<AuditEvent> {
        let context = self.context();
        let mut events = Vec::new();
        let leaves = |a: &Map<String, Value>| changes::assignment_properties(kind, a);
        for a in new {
            let before = old.iter().find(|o| target_key(o) == target_key(a)).map(leaves);
            let after = leaves(a);
            let operation = match &before {
                None => "Create",
                Some(b) if *b == after => continue,
                Some(_) => "Patch",
            };
            let properties = changes::assignment_change(before.as_deref(), Some(&after));
            let id = a.get("id").and_then(Value::as_str).unwrap_or_default();
            events.push(context.assignment_event(set, kind, operation, parent, id, properties));
        }
        for a in old.iter().filter(|o| !new.iter().any(|n| target_key(n) == target_key(o))) {
            let properties = changes::assignment_change(Some(&leaves(a)), None);
            let id = a.get("id").and_then(Value::as_str).unwrap_or_default();
            events.push(context.assignment_event(set, kind, "Delete", parent, id, properties));
        }
        events
    }

    /// Scripts write one `assign…` event naming the first target group (§3.7).
    fn script_assign_event(
        &self,
        set: &EntitySet,
        script: &IntuneObject,
        new: &[Map<String, Value>],
    ) -> AuditEvent {
        let first = new.first().map(|a| {
            let (ty, group) = target_key(a);
            if ty.contains("alldevices") { ALL_DEVICES.to_string() } else { group }
        });
        let properties = changes::action_properties(vec![(
            "TargetGroupIDs".into(),
            first.unwrap_or_else(|| "<null>".into()),
        )]);
        let mut resource = changes::resource(script, properties);
        resource.display_name = Some("<null>".into());
        self.context().event(set, "assign", &set.declared(), vec![resource])
    }

    async fn schedule_actions(
        &self,
        set: &EntitySet,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<(), WorkloadError> {
        let rules = body
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("deviceComplianceScheduledActionForRules"))
            .and_then(|(_, v)| v.as_array().cloned())
            .ok_or_else(|| {
                WorkloadError::BadRequest(
                    "The parameter 'deviceComplianceScheduledActionForRules' is missing.".into(),
                )
            })?;
        let rules = scheduled_rules(rules)?;
        let write = self.recorder.store().begin_objects().await?;
        let before = self.current(set, id, &write).await?;
        let mut after = before.clone();
        after.body.insert("scheduledActionsForRule".into(), Value::Array(rules.clone()));
        self.touch(&mut after);
        write.update(&after, before.version).await?;
        let mut leaves = Leaves::default();
        const LISTED: &[Prop] = &[p("actionType", Kind::Enum(&[])), p("gracePeriodHours", Kind::Int)];
        let configurations = [p("scheduledActionConfigurations", Kind::ComplexList(LISTED))];
        let props: Vec<&Prop> = configurations.iter().collect();
        for rule in rules.iter().filter_map(Value::as_object) {
            leaves.walk(&props, rule, "", None);
        }
        let properties = changes::action_properties(leaves.collections);
        let event = self.context().event(
            set,
            "scheduleActionsForRules",
            &set.declared(),
            vec![changes::resource(&after, properties)],
        );
        self.recorder.commit_objects(write, vec![event]).await?;
        Ok(())
    }

    /// Moves a configuration to `priority`, renumbering the others 1…n (§3.3).
    async fn set_priority(
        &self,
        set: &EntitySet,
        action: &Action,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<(), WorkloadError> {
        let params = body::parameters(action.parameters, action.name, body)?;
        let wanted = params
            .get("priority")
            .and_then(Value::as_i64)
            .ok_or_else(|| WorkloadError::BadRequest("The parameter 'priority' is missing.".into()))?;
        if wanted < 1 {
            return Err(WorkloadError::BadRequest(
                "Priority must be 1 or more; 0 belongs to the default configurations.".into(),
            ));
        }
        let write = self.recorder.store().begin_objects().await?;
        let target = self.current(set, id, &write).await?;
        refuse_built_in(&target, "reprioritised")?;
        let priority = |o: &IntuneObject| o.body.get("priority").and_then(Value::as_i64).unwrap_or(0);
        let mut ordered: Vec<IntuneObject> = write
            .objects(set.segment)
            .await?
            .into_iter()
            .filter(|o| priority(o) > 0 && o.id != target.id)
            .collect();
        ordered.sort_by_key(priority);
        let at = (wanted as usize - 1).min(ordered.len());
        ordered.insert(at, target.clone());
        let mut event = None;
        for (i, object) in ordered.iter().enumerate() {
            let new_priority = i as i64 + 1;
            if priority(object) == new_priority {
                continue;
            }
            let mut after = object.clone();
            after.body.insert("priority".into(), Value::from(new_priority));
            self.touch(&mut after);
            write.update(&after, object.version).await?;
            if object.id == target.id {
                let properties = changes::diff(
                    &[("Priority".into(), priority(object).to_string())],
                    &[("Priority".into(), new_priority.to_string())],
                );
                event = Some(self.context().event(
                    set,
                    "setPriority",
                    &set.declared(),
                    vec![changes::resource(&after, properties)],
                ));
            }
        }
        let event = event.unwrap_or_else(|| {
            let properties = changes::action_properties(Vec::new());
            self.context().event(
                set,
                "setPriority",
                &set.declared(),
                vec![changes::resource(&target, properties)],
            )
        });
        self.recorder.commit_objects(write, vec![event]).await?;
        Ok(())
    }

    /// A remote action: a pending `deviceActionResults` entry, the management
    /// state where the action sets one, and an `<action> ManagedDevice` event
    /// listing the device's Entra id (never the action's parameters).
    async fn device_action(
        &self,
        set: &EntitySet,
        action: &Action,
        id: &str,
        body: &Map<String, Value>,
        state: Option<&str>,
    ) -> Result<(), WorkloadError> {
        let allowed: Vec<Prop> = action.parameters.iter().filter(|p| self.beta || !p.beta).copied().collect();
        let params = body::parameters(&allowed, action.name, body)?;
        for required in allowed.iter().filter(|p| matches!(p.kind, Kind::Bool)) {
            if !params.contains_key(required.name) {
                return Err(WorkloadError::BadRequest(format!(
                    "The parameter '{}' is required for '{}'.",
                    required.name, action.name
                )));
            }
        }
        let write = self.recorder.store().begin_objects().await?;
        let before = self.current(set, id, &write).await?;
        let mut after = before.clone();
        let stamp = self.stamp();
        let result = serde_json::json!({"actionName": action.name, "actionState": "pending", "startDateTime": stamp, "lastUpdatedDateTime": stamp});
        let mut results =
            after.body.get("deviceActionResults").and_then(Value::as_array).cloned().unwrap_or_default();
        results.retain(|r| r.get("actionName").and_then(Value::as_str) != Some(action.name));
        results.push(result);
        after.body.insert("deviceActionResults".into(), Value::Array(results));
        if let Some(state) = state {
            after.body.insert("managementState".into(), Value::String(state.into()));
        }
        after.version += 1;
        write.update(&after, before.version).await?;
        let entra_id = before.str("azureADDeviceId").unwrap_or("<null>").to_string();
        let properties = changes::action_properties(vec![("AzureADDeviceId".into(), entra_id)]);
        let event = self.context().event(
            set,
            action.name,
            &set.declared(),
            vec![changes::resource(&before, properties)],
        );
        self.recorder.commit_objects(write, vec![event]).await?;
        Ok(())
    }

    /// `POST …/{id}/assignments`: one more assignment, as `assign` with the
    /// current set plus it. Compliance policies have no such route (§3.1).
    pub async fn add_assignment(
        &self,
        set: &EntitySet,
        id: &str,
        item: &Value,
    ) -> Result<Value, WorkloadError> {
        let kind = set.assignments.as_ref().ok_or_else(|| {
            WorkloadError::BadRequest("Resource not found for the segment 'assignments'.".to_string())
        })?;
        if !kind.postable {
            return Err(WorkloadError::NoRoute(format!(
                "No OData route exists that match template ~/singleton/navigation/key/navigation with http verb POST for request /{}/{}/{}('{id}')/assignments.",
                set.service,
                set.singleton.segment(),
                set.segment
            )));
        }
        self.authorize(set, &set.write, "Assign", Some(id))?;
        let current = self.get(set, id).await?;
        let mut items: Vec<Value> =
            current.body.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default();
        items.push(item.clone());
        let mut body = Map::new();
        body.insert(kind.parameter.into(), Value::Array(items));
        self.assign(set, id, &body).await?;
        let after = self.get(set, id).await?;
        let all = super::shape::assignments_json(kind, &after, self.beta);
        let wanted = item
            .get("target")
            .and_then(|t| t.get("groupId"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        Ok(all
            .into_iter()
            .rev()
            .find(|a| wanted.is_none() || a["target"]["groupId"].as_str() == wanted.as_deref())
            .unwrap_or(Value::Null))
    }
}
