//! An object of an emulated Intune workload (a policy, an app, a device, a role,
//! a script), as the store keeps it: its entity set, key, concrete type, version
//! and its properties as Graph JSON. What the properties mean is the workloads'
//! business (`workloads::catalogue`); the store only keeps them whole.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct IntuneObject {
    /// The entity set's URL segment, e.g. `deviceCompliancePolicies`.
    pub set: String,
    pub id: String,
    /// The concrete type's name without namespace, e.g. `windows10CompliancePolicy`.
    pub odata_type: String,
    /// Graph's `version`: 1 on create, raised by each change.
    pub version: i32,
    /// Every property, navigation values included (`assignments`, …).
    pub body: Map<String, Value>,
}

impl IntuneObject {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    /// `displayName`, which names the object in its audit events.
    pub fn display_name(&self) -> Option<&str> {
        self.str("displayName").or_else(|| self.str("deviceName"))
    }
}
