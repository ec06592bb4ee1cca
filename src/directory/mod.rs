//! The directory: tenants, app registrations, users and Intune RBAC, as the
//! token service and the resource-side checks see them.
//!
//! It is loaded once at startup, either from a TOML tenant file (format in
//! `tenant.example.toml` beside this module) or, without a file, from the fixed
//! development tenant in [`well_known::dev`]. It is immutable
//! afterwards and shared behind an `Arc`.
//!
//! Invariants after loading: every GUID is lower-case and valid; tenant ids and
//! domains are unique; client ids, object ids and UPNs are unique within a
//! tenant; role assignments point at existing roles and users. Objects the file
//! gives no id get a name-based (v5) UUID, so ids never change between runs.

use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

mod claims;
mod tenant_file;
#[cfg(test)]
mod tests;
pub mod well_known;

pub use claims::{AccessTokenClaims, v1_issuer};

use well_known::{dev, directory_roles, intune, permissions};

/// All tenants auditgraph knows.
#[derive(Debug, Clone)]
pub struct Directory {
    tenants: Vec<Tenant>,
}

/// One Entra tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Lower-case GUID; the `tid` claim.
    pub id: String,
    /// Lower-case primary domain, e.g. `contoso.onmicrosoft.com`.
    pub domain: String,
    pub display_name: String,
    pub apps: Vec<AppRegistration>,
    pub users: Vec<User>,
    pub intune_roles: Vec<IntuneRole>,
    pub intune_role_assignments: Vec<IntuneRoleAssignment>,
}

/// An app registration together with its service principal in the tenant.
#[derive(Debug, Clone)]
pub struct AppRegistration {
    /// The application (client) id; the `appid` claim.
    pub client_id: String,
    /// The service principal's object id; `oid`/`sub` of app-only tokens.
    pub object_id: String,
    pub display_name: String,
    pub secrets: Vec<ClientSecret>,
    /// Public clients (mobile/desktop/CLI) have no secret and may not use
    /// client credentials; they sign users in.
    pub public_client: bool,
    /// Granted application permissions (app roles), e.g.
    /// `DeviceManagementApps.Read.All`; the `roles` claim of app-only tokens.
    pub application_permissions: Vec<String>,
    /// Delegated permissions consented for the app; what `/.default` grants
    /// in a delegated flow.
    pub delegated_permissions: Vec<String>,
    /// Registered redirect URIs for the authorization code flow.
    pub redirect_uris: Vec<String>,
    /// Azure RBAC actions granted to the service principal on Intune's provider
    /// scope (`Microsoft.Intune/diagnosticsettings/read`, …): what ARM checks.
    pub azure_actions: Vec<String>,
}

/// A client secret and its optional expiry.
#[derive(Debug, Clone)]
pub struct ClientSecret {
    pub value: String,
    pub expires: Option<DateTime<Utc>>,
}

/// A member user.
#[derive(Debug, Clone)]
pub struct User {
    /// Lower-case GUID; the `oid` claim and the actor's `userId`.
    pub object_id: String,
    /// User principal name, kept as written; compared case-insensitively.
    pub upn: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub password: String,
    /// Entra directory role template ids; the `wids` claim.
    pub directory_roles: Vec<String>,
}

/// An Intune RBAC role definition.
#[derive(Debug, Clone)]
pub struct IntuneRole {
    pub id: String,
    pub display_name: String,
    /// Intune permission names, e.g. `Microsoft.Intune_Audit_Read`.
    pub permissions: Vec<String>,
}

/// An Intune role assignment: which users hold which role.
#[derive(Debug, Clone)]
pub struct IntuneRoleAssignment {
    pub id: String,
    pub display_name: String,
    pub role_id: String,
    /// User object ids.
    pub member_ids: Vec<String>,
}

/// What the `{tenant}` path segment of an identity URL selects.
#[derive(Debug, Clone, Copy)]
pub enum TenantScope<'a> {
    /// A tenant named by id or domain.
    Tenant(&'a Tenant),
    /// `common`, `organizations` or `consumers`: the tenant follows from the
    /// client or the user.
    Any,
}

/// A tenant file that cannot be used: names the file, the line and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DirectoryError {
    /// The file name (or `<string>`).
    pub source_name: String,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// 1-based column, when the problem has a position.
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}: line {line}, column {column}: {}", self.source_name, self.message)
            }
            _ => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

impl Directory {
    /// Builds a directory from already-validated tenants.
    pub fn new(tenants: Vec<Tenant>) -> Self {
        Self { tenants }
    }

    /// Loads a tenant file. The error names the file, the line and the problem.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read tenant file {}", path.display()))?;
        Ok(Self::from_toml_str(&text, &path.display().to_string())?)
    }

    /// Parses and validates tenant-file text; `source_name` is used in errors.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self, DirectoryError> {
        tenant_file::parse(text, source_name)
    }

    /// The fixed development tenant (see `well_known::dev` and the README).
    pub fn development() -> Self {
        let dev_app =
            |client_id: &str, object_id: &str, name: &str, secret: &str, role: &str| AppRegistration {
                client_id: client_id.into(),
                object_id: object_id.into(),
                display_name: name.into(),
                secrets: if secret.is_empty() {
                    vec![]
                } else {
                    vec![ClientSecret { value: secret.into(), expires: None }]
                },
                public_client: false,
                application_permissions: if role.is_empty() { vec![] } else { vec![role.into()] },
                delegated_permissions: if role.is_empty() {
                    vec![permissions::USER_READ.into()]
                } else {
                    vec![role.into(), permissions::USER_READ.into()]
                },
                redirect_uris: loopback_redirect_uris(),
                azure_actions: Vec::new(),
            };
        let dev_user =
            |object_id: &str, upn: &str, name: &str, given: &str, surname: &str, roles: &[&str]| User {
                object_id: object_id.into(),
                upn: upn.into(),
                display_name: name.into(),
                given_name: Some(given.into()),
                surname: Some(surname.into()),
                password: dev::PASSWORD.into(),
                directory_roles: roles.iter().map(|r| r.to_string()).collect(),
            };
        let mut public_client =
            dev_app(dev::PUBLIC_CLIENT_ID, dev::PUBLIC_CLIENT_OBJECT_ID, "auditgraph-public-client", "", "");
        public_client.public_client = true;
        public_client.delegated_permissions = vec![
            permissions::DEVICE_MANAGEMENT_APPS_READ_ALL.into(),
            permissions::DEVICE_MANAGEMENT_APPS_READWRITE_ALL.into(),
            permissions::USER_READ.into(),
        ];
        for permission in workload_permissions() {
            if !public_client.delegated_permissions.contains(&permission) {
                public_client.delegated_permissions.push(permission);
            }
        }
        let mut intune_admin = dev_app(
            dev::INTUNE_ADMIN_CLIENT_ID,
            dev::INTUNE_ADMIN_APP_OBJECT_ID,
            "auditgraph-intune-admin",
            dev::INTUNE_ADMIN_SECRET,
            "",
        );
        intune_admin.application_permissions = permissions::WORKLOADS.iter().map(|p| p.to_string()).collect();
        intune_admin.delegated_permissions = workload_permissions();
        let mut monitoring = dev_app(
            dev::MONITORING_CLIENT_ID,
            dev::MONITORING_OBJECT_ID,
            "auditgraph-monitoring",
            dev::MONITORING_SECRET,
            "",
        );
        monitoring.azure_actions =
            well_known::azure::DIAGNOSTIC_SETTINGS_ACTIONS.iter().map(|a| a.to_string()).collect();
        let mut portal = dev_app(
            dev::PORTAL_CLIENT_ID,
            dev::PORTAL_CLIENT_OBJECT_ID,
            "Microsoft Intune portal extension",
            "",
            "",
        );
        portal.public_client = true;
        portal.delegated_permissions = workload_permissions();
        let tenant = Tenant {
            id: dev::TENANT_ID.into(),
            domain: dev::TENANT_DOMAIN.into(),
            display_name: dev::TENANT_DISPLAY_NAME.into(),
            apps: vec![
                dev_app(
                    dev::READER_CLIENT_ID,
                    dev::READER_OBJECT_ID,
                    "auditgraph-reader",
                    dev::READER_SECRET,
                    permissions::DEVICE_MANAGEMENT_APPS_READ_ALL,
                ),
                dev_app(
                    dev::WRITER_CLIENT_ID,
                    dev::WRITER_OBJECT_ID,
                    "auditgraph-writer",
                    dev::WRITER_SECRET,
                    permissions::DEVICE_MANAGEMENT_APPS_READWRITE_ALL,
                ),
                dev_app(
                    dev::NOACCESS_CLIENT_ID,
                    dev::NOACCESS_OBJECT_ID,
                    "auditgraph-noaccess",
                    dev::NOACCESS_SECRET,
                    "",
                ),
                intune_admin,
                monitoring,
                portal,
                public_client,
            ],
            users: vec![
                dev_user(
                    dev::ADMIN_OBJECT_ID,
                    dev::ADMIN_UPN,
                    "Contoso Admin",
                    "Contoso",
                    "Admin",
                    &[directory_roles::GLOBAL_ADMINISTRATOR],
                ),
                dev_user(
                    dev::INTUNE_ADMIN_OBJECT_ID,
                    dev::INTUNE_ADMIN_UPN,
                    "Intune Admin",
                    "Intune",
                    "Admin",
                    &[directory_roles::INTUNE_ADMINISTRATOR],
                ),
                dev_user(dev::AUDITOR_OBJECT_ID, dev::AUDITOR_UPN, "Audit Reader", "Audit", "Reader", &[]),
                dev_user(
                    dev::HELPDESK_OBJECT_ID,
                    dev::HELPDESK_UPN,
                    "Help Desk",
                    "Help",
                    "Desk",
                    &[directory_roles::HELPDESK_ADMINISTRATOR],
                ),
            ],
            intune_roles: vec![
                IntuneRole {
                    id: dev::AUDIT_READER_ROLE_ID.into(),
                    display_name: "Audit Reader".into(),
                    permissions: vec![intune::AUDIT_READ.into()],
                },
                IntuneRole {
                    id: dev::HELP_DESK_OPERATOR_ROLE_ID.into(),
                    display_name: "Help Desk Operator".into(),
                    permissions: vec![
                        "Microsoft.Intune_ManagedDevices_Read".into(),
                        "Microsoft.Intune_RemoteTasks_RebootNow".into(),
                        "Microsoft.Intune_RemoteTasks_SyncDevice".into(),
                    ],
                },
            ],
            intune_role_assignments: vec![
                IntuneRoleAssignment {
                    id: dev::AUDIT_READER_ASSIGNMENT_ID.into(),
                    display_name: "Auditors".into(),
                    role_id: dev::AUDIT_READER_ROLE_ID.into(),
                    member_ids: vec![dev::AUDITOR_OBJECT_ID.into()],
                },
                IntuneRoleAssignment {
                    id: dev::HELP_DESK_OPERATOR_ASSIGNMENT_ID.into(),
                    display_name: "Help desk".into(),
                    role_id: dev::HELP_DESK_OPERATOR_ROLE_ID.into(),
                    member_ids: vec![dev::HELPDESK_OBJECT_ID.into()],
                },
            ],
        };
        Self { tenants: vec![tenant] }
    }

    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// A tenant by id (case-insensitive).
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// Resolves the `{tenant}` path segment: a tenant id, a domain, or one of
    /// the multi-tenant aliases. `None` means the tenant does not exist.
    pub fn resolve(&self, segment: &str) -> Option<TenantScope<'_>> {
        if ["common", "organizations", "consumers"].iter().any(|alias| segment.eq_ignore_ascii_case(alias)) {
            return Some(TenantScope::Any);
        }
        self.tenants
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(segment) || t.domain.eq_ignore_ascii_case(segment))
            .map(TenantScope::Tenant)
    }

    /// Finds the app `client_id` within `scope` (any tenant for `common`).
    pub fn find_app<'a>(
        &'a self,
        scope: TenantScope<'a>,
        client_id: &str,
    ) -> Option<(&'a Tenant, &'a AppRegistration)> {
        match scope {
            TenantScope::Tenant(t) => t.app(client_id).map(|a| (t, a)),
            TenantScope::Any => self.tenants.iter().find_map(|t| t.app(client_id).map(|a| (t, a))),
        }
    }
}

impl Tenant {
    pub fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id.trim()))
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn.trim()))
    }

    pub fn user_by_id(&self, object_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.object_id.eq_ignore_ascii_case(object_id))
    }

    /// The Intune roles assigned to a user.
    pub fn intune_roles_of(&self, user_object_id: &str) -> Vec<&IntuneRole> {
        let mut roles: Vec<&IntuneRole> = Vec::new();
        for assignment in &self.intune_role_assignments {
            if !assignment.member_ids.iter().any(|m| m.eq_ignore_ascii_case(user_object_id)) {
                continue;
            }
            if let Some(role) = self.intune_roles.iter().find(|r| r.id == assignment.role_id)
                && !roles.iter().any(|r| r.id == role.id)
            {
                roles.push(role);
            }
        }
        roles
    }

    /// The union of the Intune permissions a user holds through role
    /// assignments, sorted and without duplicates.
    pub fn intune_permissions_of(&self, user_object_id: &str) -> Vec<String> {
        let mut perms: Vec<String> = self
            .intune_roles_of(user_object_id)
            .into_iter()
            .flat_map(|r| r.permissions.iter().cloned())
            .collect();
        perms.sort();
        perms.dedup();
        perms
    }
}

impl AppRegistration {
    /// Whether `uri` matches a registered redirect URI. Loopback URIs follow
    /// RFC 8252 §7.3 as Entra does: the port is ignored, and a registration
    /// without a path accepts any path on that loopback host.
    pub fn accepts_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| redirect_matches(registered, uri))
    }
}

/// Every Graph permission the Intune workloads check, plus reading the audit log.
fn workload_permissions() -> Vec<String> {
    let mut all: Vec<String> = permissions::WORKLOADS.iter().map(|p| p.to_string()).collect();
    all.push(permissions::USER_READ.into());
    all
}

fn loopback_redirect_uris() -> Vec<String> {
    [
        "http://localhost",
        "http://127.0.0.1",
        "http://[::1]",
        "https://localhost",
        "https://login.microsoftonline.com/common/oauth2/nativeclient",
        "urn:ietf:wg:oauth:2.0:oob",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Splits `scheme://host[:port]/path` into (scheme, host, path) without a URL
/// crate; good enough for redirect matching, which only compares.
fn split_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = if let Some(stripped) = authority.strip_prefix('[') {
        // IPv6 literal: keep the brackets off, drop the port.
        stripped.split_once(']').map(|(h, _)| h)?
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    Some((scheme, host, path))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host == "::1" || host.starts_with("127.")
}

fn redirect_matches(registered: &str, uri: &str) -> bool {
    if registered == uri {
        return true;
    }
    let (Some((r_scheme, r_host, r_path)), Some((u_scheme, u_host, u_path))) =
        (split_uri(registered), split_uri(uri))
    else {
        return false;
    };
    if !is_loopback(r_host)
        || !r_scheme.eq_ignore_ascii_case(u_scheme)
        || !r_host.eq_ignore_ascii_case(u_host)
    {
        return false;
    }
    let r_path = r_path.trim_end_matches('/');
    r_path.is_empty() || r_path == u_path.trim_end_matches('/')
}
