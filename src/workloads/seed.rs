//! The tenant's Intune objects when there are none yet: the built-ins every
//! tenant has (the `Default` scope tag, the default enrollment configurations,
//! the built-in roles), two devices for each development user, and an object
//! for every policy, app, device, role or script the audit history names, with
//! the id and latest name its events carry. So `resources[].resourceId` in a
//! seeded or imported history points at an object that exists.
//!
//! These objects are the state the history left behind, not changes made now:
//! writing them audits nothing. Everything is derived from its id, so the same
//! history always gives the same objects.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::body::default_of;
use super::catalogue::{ENROLLMENT, MANAGED_DEVICES, ROLE_DEFINITIONS, ROLE_SCOPE_TAGS, SETS};
use super::schema::{CreateRule, EntitySet, EntityType, pascal};
use crate::directory::well_known::dev;
use crate::domain::format_graph_datetime;
use crate::domain::object::IntuneObject;
use crate::store::Store;

/// A GUID derived from `text`, stable across runs.
fn derived_guid(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// An object of `ty` with every property at its default, and `fields` over them.
fn object(set: &EntitySet, ty: &EntityType, id: &str, at: &str, fields: Value) -> IntuneObject {
    let mut body = Map::new();
    for prop in set.props_of(ty, true) {
        let value = match prop.name {
            "id" => Value::String(id.into()),
            "createdDateTime" | "lastModifiedDateTime" => Value::String(at.into()),
            "version" => Value::from(1),
            name => ty
                .fixed
                .iter()
                .find(|(n, _)| *n == name)
                .map_or_else(|| default_of(prop), |(_, v)| Value::String(v.to_string())),
        };
        body.insert(prop.name.into(), value);
    }
    if let Value::Object(fields) = fields {
        body.extend(fields);
    }
    IntuneObject { set: set.segment.into(), id: id.into(), odata_type: ty.name.into(), version: 1, body }
}

/// Fields a device needs to look enrolled, derived from its id and name.
fn device_fields(id: &str, name: &str, user: Option<(&str, &str, &str)>, at: &str) -> Value {
    let windows = !name.to_ascii_lowercase().contains("iphone");
    let (user_id, upn, user_name) = user.unwrap_or(("", "", ""));
    json!({
        "deviceName": name,
        "managedDeviceName": format!("{name}_{}", &id[..8.min(id.len())]),
        "managedDeviceOwnerType": "company",
        "managementState": "managed",
        "enrolledDateTime": at,
        "lastSyncDateTime": at,
        "operatingSystem": if windows { "Windows" } else { "iOS" },
        "osVersion": if windows { "10.0.22631.4460" } else { "18.1" },
        "complianceState": "compliant",
        "jailBroken": if windows { "Unknown" } else { "False" },
        "managementAgent": "mdm",
        "azureADRegistered": true,
        "deviceEnrollmentType": if windows { "windowsAzureADJoin" } else { "userEnrollment" },
        "azureADDeviceId": derived_guid(&format!("entra:{id}")),
        "deviceRegistrationState": "registered",
        "isEncrypted": true,
        "model": if windows { "Surface Laptop 6" } else { "iPhone 15" },
        "manufacturer": if windows { "Microsoft Corporation" } else { "Apple" },
        "serialNumber": derived_guid(&format!("serial:{id}"))[..12].to_ascii_uppercase(),
        "userId": if user_id.is_empty() { Value::Null } else { Value::String(user_id.into()) },
        "userPrincipalName": upn,
        "emailAddress": upn,
        "userDisplayName": user_name,
        "udid": derived_guid(&format!("udid:{id}")),
    })
}

/// The built-ins and the development users' devices.
fn built_ins(at: &str) -> Vec<IntuneObject> {
    let mut out = Vec::new();
    let tag = &ROLE_SCOPE_TAGS.types[0];
    out.push(object(
        &ROLE_SCOPE_TAGS,
        tag,
        "0",
        at,
        json!({"displayName": "Default", "description": "Default scope tag", "isBuiltIn": true}),
    ));
    let never = "0001-01-01T00:00:00Z";
    let limit = &ENROLLMENT.types[0];
    let restrictions = &ENROLLMENT.types[1];
    let everyone = json!({"displayName": "All users and all devices", "priority": 0, "createdDateTime": never, "lastModifiedDateTime": never});
    let mut default_limit =
        object(&ENROLLMENT, limit, &format!("{}_DefaultLimit", dev::TENANT_ID), never, everyone.clone());
    default_limit.body.insert("limit".into(), Value::from(15));
    default_limit.body.insert("deviceEnrollmentConfigurationType".into(), "defaultLimit".into());
    out.push(default_limit);
    let mut default_restrictions = object(
        &ENROLLMENT,
        restrictions,
        &format!("{}_DefaultPlatformRestrictions", dev::TENANT_ID),
        never,
        everyone,
    );
    default_restrictions
        .body
        .insert("deviceEnrollmentConfigurationType".into(), "defaultPlatformRestrictions".into());
    out.push(default_restrictions);
    let role = &ROLE_DEFINITIONS.types[0];
    for (name, actions) in [
        (
            "Policy and Profile manager",
            vec![
                "Microsoft.Intune_DeviceConfigurations_Read",
                "Microsoft.Intune_DeviceConfigurations_Create",
                "Microsoft.Intune_DeviceConfigurations_Update",
                "Microsoft.Intune_DeviceConfigurations_Delete",
                "Microsoft.Intune_DeviceConfigurations_Assign",
                "Microsoft.Intune_DeviceCompliancePolices_Read",
                "Microsoft.Intune_DeviceCompliancePolices_Create",
                "Microsoft.Intune_DeviceCompliancePolices_Update",
                "Microsoft.Intune_DeviceCompliancePolices_Delete",
                "Microsoft.Intune_DeviceCompliancePolices_Assign",
            ],
        ),
        (
            "Help Desk Operator",
            vec![
                "Microsoft.Intune_ManagedDevices_Read",
                "Microsoft.Intune_RemoteTasks_RebootNow",
                "Microsoft.Intune_RemoteTasks_SyncDevice",
                "Microsoft.Intune_RemoteTasks_ResetPasscode",
            ],
        ),
        (
            "Application Manager",
            vec![
                "Microsoft.Intune_MobileApps_Read",
                "Microsoft.Intune_MobileApps_Create",
                "Microsoft.Intune_MobileApps_Update",
                "Microsoft.Intune_MobileApps_Delete",
                "Microsoft.Intune_MobileApps_Assign",
            ],
        ),
        (
            "Read Only Operator",
            vec![
                "Microsoft.Intune_ManagedDevices_Read",
                "Microsoft.Intune_MobileApps_Read",
                "Microsoft.Intune_DeviceConfigurations_Read",
                "Microsoft.Intune_Audit_Read",
            ],
        ),
    ] {
        let fields = json!({
            "displayName": name,
            "description": format!("{name} (built-in)"),
            "isBuiltIn": true,
            "rolePermissions": [{"resourceActions": [{"allowedResourceActions": actions, "notAllowedResourceActions": []}]}],
        });
        out.push(object(&ROLE_DEFINITIONS, role, &derived_guid(&format!("role:{name}")), at, fields));
    }
    let device = &MANAGED_DEVICES.types[0];
    let users = [
        (dev::ADMIN_OBJECT_ID, dev::ADMIN_UPN, "Contoso Admin"),
        (dev::INTUNE_ADMIN_OBJECT_ID, dev::INTUNE_ADMIN_UPN, "Intune Admin"),
        (dev::AUDITOR_OBJECT_ID, dev::AUDITOR_UPN, "Audit Reader"),
        (dev::HELPDESK_OBJECT_ID, dev::HELPDESK_UPN, "Help Desk"),
    ];
    for (n, user) in users.iter().enumerate() {
        for (k, kind) in ["LPT", "iPhone"].iter().enumerate() {
            let id = derived_guid(&format!("device:{}:{k}", user.0));
            let name = format!("{kind}-{:05}", 1001 + n * 2 + k);
            out.push(object(&MANAGED_DEVICES, device, &id, at, device_fields(&id, &name, Some(*user), at)));
        }
    }
    out
}

/// The object the history names, made real.
fn from_history(resource_type: &str, id: &str, name: &str, at: &str) -> Option<IntuneObject> {
    let (set, ty) = SETS.iter().find_map(|s| {
        s.types.iter().find(|t| pascal(t.name).eq_ignore_ascii_case(resource_type)).map(|t| (s, t))
    })?;
    // Devices enrol rather than being created, and carry their hardware's fields.
    if set.segment == MANAGED_DEVICES.segment {
        return Some(object(set, ty, id, at, device_fields(id, name, None, at)));
    }
    let mut fields = json!({"displayName": name});
    // What a create through the API would have required or set.
    match set.create_rule {
        CreateRule::ScheduledRules => {
            fields["scheduledActionsForRule"] = json!([{"id": derived_guid(&format!("rule:{id}")), "ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": "", "notificationMessageCCList": []}]}]);
        }
        CreateRule::NextPriority => fields["priority"] = Value::from(1),
        CreateRule::None | CreateRule::BindRoleDefinition => {}
    }
    Some(object(set, ty, id, at, fields))
}

/// Creates the tenant's objects when it has none (see the module doc); returns
/// how many it wrote.
pub async fn ensure_objects(store: &Store, now: DateTime<Utc>) -> anyhow::Result<u64> {
    if store.has_objects().await? {
        return Ok(0);
    }
    let at = format_graph_datetime(crate::domain::truncate_to_ticks(now));
    let types: Vec<String> =
        SETS.iter().flat_map(|s| s.types.iter().map(|t| crate::domain::fold(&pascal(t.name)))).collect();
    let mut objects = built_ins(&at);
    for (resource_type, id, name) in store.audited_resources(&types).await? {
        if let Some(o) = from_history(&resource_type, &id, &name, &at) {
            objects.push(o);
        }
    }
    let write = store.begin_objects().await?;
    let mut written = 0;
    for o in &objects {
        if write.object(&o.set, &o.id).await?.is_none() {
            write.insert(o).await?;
            written += 1;
        }
    }
    write.commit(&[]).await?;
    Ok(written)
}
