//! The resource side of authentication, used by every door (REST, GraphQL,
//! subscriptions): [`TokenVerifier`] turns a bearer token into a
//! [`Principal`], and the principal answers one question per request,
//! [`Principal::may_read`] / [`Principal::may_write`] (or the `authorize_*`
//! forms that return the 403 to send).
//!
//! Rules (graph-audit-events.md §3, identity.md §10):
//! - Reads need `DeviceManagementApps.Read.All` or `.ReadWrite.All`; writes
//!   need `.ReadWrite.All`. App tokens are judged on `roles`, delegated tokens
//!   on `scp`.
//! - A delegated user additionally needs Intune access: the Global
//!   Administrator or Intune Administrator directory role (`wids`), or an
//!   Intune RBAC role granting `Microsoft.Intune_Audit_Read` (reads) /
//!   `Microsoft.Intune_Audit_Write` or `*` (writes; an auditgraph extension,
//!   since real Intune writes audit events itself). Intune roles come from the
//!   directory when the token is verified.
//!
//! This module never issues tokens and trusts nothing but verified ones.

mod error;
mod verifier;

pub use error::{AuthError, DEFAULT_INTUNE_URL, Operation, intune_error_message};
#[cfg(test)]
pub(crate) use verifier::parse_jwks;
pub use verifier::{Resource, TokenVerifier, TrustedKey, bearer_token, load_jwks_file};

use chrono::{DateTime, Utc};

use crate::directory::well_known::directory_roles::AUDIT_ADMIN_ROLES;
use crate::directory::well_known::intune;
use crate::directory::well_known::permissions::{
    DEVICE_MANAGEMENT_APPS_READ_ALL, DEVICE_MANAGEMENT_APPS_READWRITE_ALL,
};

/// What a workload call needs (intune-workloads.md §3): one of `scopes` (app
/// `roles` or delegated `scp`), and for a user also Intune access: Global or
/// Intune Administrator, or an Intune role granting `<intune>_<operation>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub scopes: &'static [&'static str],
    /// The Intune RBAC resource (`Microsoft.Intune_MobileApps`), or a whole
    /// permission name when `operation` is empty (`Microsoft.Intune_RemoteTasks_Wipe`).
    pub intune: &'static str,
}

/// App-only or delegated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// Client credentials: the app acts as itself.
    Application,
    /// A signed-in user, through some client app.
    User,
}

/// The caller, as established by a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// `tid`.
    pub tenant_id: String,
    /// `appid`: the client application.
    pub app_id: String,
    /// `app_displayname`, or the registration's name.
    pub app_display_name: Option<String>,
    /// `oid`: the service principal (apps) or the user.
    pub object_id: String,
    /// Users only: `upn`.
    pub user_principal_name: Option<String>,
    /// Users only: `name`.
    pub display_name: Option<String>,
    /// Application permissions (`roles`).
    pub roles: Vec<String>,
    /// Delegated permissions (`scp`), users only.
    pub scopes: Vec<String>,
    /// Directory role template ids (`wids`).
    pub directory_roles: Vec<String>,
    /// Users only: Intune permissions from their Intune role assignments.
    pub intune_permissions: Vec<String>,
    /// Apps only: Azure RBAC actions granted on Intune's provider scope.
    pub azure_actions: Vec<String>,
    /// `aud` as the token carried it.
    pub audience: String,
    /// `uti`.
    pub token_id: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// The actor recorded on an audit event created through the API: plain
/// fields the event model converts (graph-audit-events.md §1.2, §4.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// `"Application"` or `"ItPro"`.
    pub audit_actor_type: Option<String>,
    pub application_id: Option<String>,
    pub application_display_name: Option<String>,
    pub service_principal_name: Option<String>,
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
    /// Left empty; the door knows the client address.
    pub ip_address: Option<String>,
    pub user_permissions: Vec<String>,
}

impl Principal {
    pub fn is_application(&self) -> bool {
        self.kind == PrincipalKind::Application
    }

    /// The permissions that count for this kind of token: `roles` for apps,
    /// `scp` for users.
    pub fn permissions(&self) -> &[String] {
        match self.kind {
            PrincipalKind::Application => &self.roles,
            PrincipalKind::User => &self.scopes,
        }
    }

    fn has_permission(&self, name: &str) -> bool {
        self.permissions().iter().any(|p| p.eq_ignore_ascii_case(name))
    }

    /// Global Administrator or Intune Administrator.
    pub fn is_intune_admin(&self) -> bool {
        self.directory_roles.iter().any(|r| AUDIT_ADMIN_ROLES.iter().any(|a| a.eq_ignore_ascii_case(r)))
    }

    fn has_intune_permission(&self, name: &str) -> bool {
        self.intune_permissions.iter().any(|p| p == intune::ALL || p.eq_ignore_ascii_case(name))
    }

    /// May list and get audit events.
    pub fn may_read(&self) -> bool {
        let scoped = self.has_permission(DEVICE_MANAGEMENT_APPS_READ_ALL)
            || self.has_permission(DEVICE_MANAGEMENT_APPS_READWRITE_ALL);
        match self.kind {
            PrincipalKind::Application => scoped,
            PrincipalKind::User => {
                scoped
                    && (self.is_intune_admin()
                        || self.has_intune_permission(intune::AUDIT_READ)
                        || self.has_intune_permission(intune::AUDIT_WRITE))
            }
        }
    }

    /// May create, update and delete audit events.
    pub fn may_write(&self) -> bool {
        let scoped = self.has_permission(DEVICE_MANAGEMENT_APPS_READWRITE_ALL);
        match self.kind {
            PrincipalKind::Application => scoped,
            PrincipalKind::User => {
                scoped && (self.is_intune_admin() || self.has_intune_permission(intune::AUDIT_WRITE))
            }
        }
    }

    /// `Ok` or the 403 for `operation`.
    pub fn authorize(&self, operation: Operation) -> Result<(), AuthError> {
        let allowed = match operation {
            Operation::Read => self.may_read(),
            Operation::Write => self.may_write(),
        };
        if allowed { Ok(()) } else { Err(AuthError::forbidden(self.kind, operation)) }
    }

    pub fn authorize_read(&self) -> Result<(), AuthError> {
        self.authorize(Operation::Read)
    }

    pub fn authorize_write(&self) -> Result<(), AuthError> {
        self.authorize(Operation::Write)
    }

    /// `Ok`, or the 403 for a workload call needing `grant` with the Intune
    /// `operation` (`Read`, `Create`, …; empty when `grant` names the permission).
    pub fn authorize_grant(&self, grant: &Grant, operation: &str, url: String) -> Result<(), AuthError> {
        let scoped = grant.scopes.iter().any(|s| self.has_permission(s));
        let intune = || {
            let permission = if operation.is_empty() {
                grant.intune.to_string()
            } else {
                format!("{}_{operation}", grant.intune)
            };
            self.is_intune_admin() || self.has_intune_permission(&permission)
        };
        let allowed = match self.kind {
            PrincipalKind::Application => scoped,
            PrincipalKind::User => scoped && intune(),
        };
        if allowed { Ok(()) } else { Err(AuthError::forbidden_for(self.kind, grant.scopes, url)) }
    }

    /// May perform an Azure RBAC `action` on Intune's provider scope: an app
    /// granted it, or a Global or Intune Administrator (who hold Owner-like
    /// rights on the tenant's Intune resources, as the tenant grants).
    pub fn may_azure(&self, action: &str) -> bool {
        match self.kind {
            PrincipalKind::Application => self.azure_actions.iter().any(|a| a.eq_ignore_ascii_case(action)),
            PrincipalKind::User => self.is_intune_admin(),
        }
    }

    /// The actor of an event this principal creates: an app is
    /// `Application` with its id and names; a user is `ItPro` with UPN, id and
    /// the permissions of their Intune roles (`*` for Global/Intune admins, as
    /// real events show for admins).
    pub fn actor(&self) -> Actor {
        match self.kind {
            PrincipalKind::Application => Actor {
                audit_actor_type: Some("Application".into()),
                application_id: Some(self.app_id.clone()),
                application_display_name: self.app_display_name.clone(),
                service_principal_name: self.app_display_name.clone().or_else(|| Some(self.app_id.clone())),
                user_id: None,
                user_principal_name: None,
                ip_address: None,
                user_permissions: Vec::new(),
            },
            PrincipalKind::User => Actor {
                audit_actor_type: Some("ItPro".into()),
                application_id: Some(self.app_id.clone()),
                application_display_name: self.app_display_name.clone(),
                service_principal_name: None,
                user_id: Some(self.object_id.clone()),
                user_principal_name: self.user_principal_name.clone(),
                ip_address: None,
                user_permissions: if self.is_intune_admin() {
                    vec![intune::ALL.to_string()]
                } else {
                    self.intune_permissions.clone()
                },
            },
        }
    }

    /// The stand-in principal for `--auth off`: an application holding
    /// `DeviceManagementApps.ReadWrite.All` and every workload permission, named so that events it creates
    /// say auth was off.
    pub fn auth_disabled() -> Self {
        Self {
            kind: PrincipalKind::Application,
            tenant_id: crate::directory::well_known::dev::TENANT_ID.to_string(),
            app_id: "00000000-0000-0000-0000-000000000000".to_string(),
            app_display_name: Some("auditgraph (auth off)".to_string()),
            object_id: "00000000-0000-0000-0000-000000000000".to_string(),
            user_principal_name: None,
            display_name: None,
            roles: std::iter::once(DEVICE_MANAGEMENT_APPS_READWRITE_ALL)
                .chain(crate::directory::well_known::permissions::WORKLOADS.iter().copied())
                .map(str::to_string)
                .collect(),
            scopes: Vec::new(),
            directory_roles: Vec::new(),
            intune_permissions: Vec::new(),
            azure_actions: crate::directory::well_known::azure::DIAGNOSTIC_SETTINGS_ACTIONS
                .iter()
                .map(|a| a.to_string())
                .collect(),
            audience: crate::directory::well_known::GRAPH_RESOURCE_URI.to_string(),
            token_id: None,
            expires_at: DateTime::<Utc>::MAX_UTC,
        }
    }
}
