//! The directory: tenants, app registrations, users and Intune RBAC, as the
//! token service and the resource-side checks see them.
//!
//! It is loaded once at startup, either from a TOML tenant file (format in
//! `tenant.example.toml` beside this module) or, without a file, from the fixed
//! development tenant in [`crate::identity::well_known::dev`]. It is immutable
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
use serde::Deserialize;
use toml::Spanned;
use uuid::Uuid;

use super::well_known::{self, dev, directory_roles, intune, permissions};

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
        let at = Locator { text, source_name };
        let raw: RawFile = toml::from_str(text).map_err(|e| at.error(e.span(), e.message()))?;
        raw.validate(&at)
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

    /// The first tenant: the default for flows that name none.
    pub fn default_tenant(&self) -> Option<&Tenant> {
        self.tenants.first()
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

    /// Finds the user `upn` within `scope` (for `common`: the tenant whose
    /// domain the UPN carries, else any tenant that has the user).
    pub fn find_user<'a>(&'a self, scope: TenantScope<'a>, upn: &str) -> Option<(&'a Tenant, &'a User)> {
        match scope {
            TenantScope::Tenant(t) => t.user_by_upn(upn).map(|u| (t, u)),
            TenantScope::Any => self.tenants.iter().find_map(|t| t.user_by_upn(upn).map(|u| (t, u))),
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

// ---------------------------------------------------------------------------
// Tenant file parsing. Raw structs mirror the TOML; `Spanned` keeps positions
// so that semantic errors (bad GUID, unknown role...) can name their line.
// ---------------------------------------------------------------------------

struct Locator<'a> {
    text: &'a str,
    source_name: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: Option<std::ops::Range<usize>>, message: impl Into<String>) -> DirectoryError {
        let (line, column) = match span {
            Some(span) => {
                let before = &self.text[..span.start.min(self.text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        DirectoryError { source_name: self.source_name.to_string(), line, column, message: message.into() }
    }

    fn at<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> DirectoryError {
        self.error(Some(spanned.span()), message)
    }

    /// A GUID field, normalised to lower case.
    fn guid(&self, value: &Spanned<String>, what: &str) -> Result<String, DirectoryError> {
        Uuid::parse_str(value.get_ref().trim())
            .map(|u| u.hyphenated().to_string())
            .map_err(|_| self.at(value, format!("{what} '{}' is not a GUID", value.get_ref())))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tenant: Vec<Spanned<RawTenant>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    id: Spanned<String>,
    domain: Spanned<String>,
    display_name: Option<String>,
    #[serde(default)]
    app: Vec<Spanned<RawApp>>,
    #[serde(default)]
    user: Vec<Spanned<RawUser>>,
    #[serde(default)]
    intune_role: Vec<Spanned<RawIntuneRole>>,
    #[serde(default)]
    intune_role_assignment: Vec<Spanned<RawAssignment>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    client_id: Spanned<String>,
    object_id: Option<Spanned<String>>,
    display_name: String,
    #[serde(default)]
    secrets: Vec<Spanned<RawSecret>>,
    #[serde(default)]
    public_client: bool,
    #[serde(default)]
    application_permissions: Vec<Spanned<String>>,
    #[serde(default)]
    delegated_permissions: Vec<Spanned<String>>,
    redirect_uris: Option<Vec<Spanned<String>>>,
}

/// A secret is a plain string, or a table with a value and an optional
/// expiry. Hand-written rather than `#[serde(untagged)]`: untagged buffering
/// loses TOML date-times and gives a useless error message.
enum RawSecret {
    Plain(String),
    /// `expires` is a TOML date-time or a string, rendered as text.
    WithExpiry {
        value: String,
        expires: Option<String>,
    },
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl<'de> serde::de::Visitor<'de> for SecretVisitor {
            type Value = RawSecret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a secret string or { value = "...", expires = 2030-01-01T00:00:00Z }"#)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawSecret, E> {
                Ok(RawSecret::Plain(v.to_string()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawSecret, A::Error> {
                let (mut value, mut expires) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "value" => value = Some(map.next_value::<String>()?),
                        "expires" => {
                            expires = Some(match map.next_value::<toml::Value>()? {
                                toml::Value::String(s) => s,
                                toml::Value::Datetime(d) => d.to_string(),
                                other => {
                                    return Err(serde::de::Error::custom(format!(
                                        "expires must be a date-time, not {}",
                                        other.type_str()
                                    )));
                                }
                            })
                        }
                        other => {
                            return Err(serde::de::Error::unknown_field(other, &["value", "expires"]));
                        }
                    }
                }
                let value = value.ok_or_else(|| serde::de::Error::missing_field("value"))?;
                Ok(RawSecret::WithExpiry { value, expires })
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    object_id: Option<Spanned<String>>,
    upn: Spanned<String>,
    display_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    password: String,
    #[serde(default)]
    directory_roles: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntuneRole {
    id: Option<Spanned<String>>,
    display_name: Spanned<String>,
    #[serde(default)]
    permissions: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssignment {
    id: Option<Spanned<String>>,
    display_name: Option<String>,
    /// Role id or display name.
    role: Spanned<String>,
    /// UPNs or user object ids.
    #[serde(default)]
    members: Vec<Spanned<String>>,
}

/// Namespace for ids derived from names, so that objects declared without an
/// id keep the same id on every run.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x7d0f0a2c_1b1e_4c55_9a3e_2f5c00000000);

fn derived_id(parts: &[&str]) -> String {
    Uuid::new_v5(&ID_NAMESPACE, parts.join("\n").to_lowercase().as_bytes()).hyphenated().to_string()
}

fn valid_permission_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl RawFile {
    fn validate(self, at: &Locator<'_>) -> Result<Directory, DirectoryError> {
        if self.tenant.is_empty() {
            return Err(at.error(Some(0..0), "the file declares no [[tenant]]"));
        }
        let mut tenants: Vec<Tenant> = Vec::new();
        for raw in self.tenant {
            let tenant = raw.into_inner().validate(at)?;
            tenants.push(tenant);
        }
        // Uniqueness across tenants is checked after the fact; positions are
        // lost by then, so re-find the offending text for the message.
        for (i, t) in tenants.iter().enumerate() {
            if let Some(dup) = tenants[..i].iter().find(|o| o.id == t.id || o.domain == t.domain) {
                let what = if dup.id == t.id { &t.id } else { &t.domain };
                let offset = at.text.match_indices(what.as_str()).nth(1).map(|(o, _)| o..o);
                return Err(at.error(offset, format!("tenant '{what}' is declared twice")));
            }
        }
        Ok(Directory { tenants })
    }
}

impl RawTenant {
    fn validate(self, at: &Locator<'_>) -> Result<Tenant, DirectoryError> {
        let id = at.guid(&self.id, "tenant id")?;
        let domain = self.domain.get_ref().trim().to_ascii_lowercase();
        if domain.is_empty() || !domain.contains('.') || domain.contains(['/', ' ', '@']) {
            return Err(at.at(&self.domain, format!("'{}' is not a domain name", self.domain.get_ref())));
        }

        let mut apps: Vec<AppRegistration> = Vec::new();
        for raw in self.app {
            let span = raw.span();
            let app = raw.into_inner().validate(at, &id)?;
            if apps.iter().any(|a| a.client_id == app.client_id) {
                return Err(at.error(Some(span), format!("client_id '{}' is declared twice", app.client_id)));
            }
            if apps.iter().any(|a| a.object_id == app.object_id) {
                return Err(at.error(Some(span), format!("object_id '{}' is declared twice", app.object_id)));
            }
            apps.push(app);
        }

        let mut users: Vec<User> = Vec::new();
        for raw in self.user {
            let span = raw.span();
            let user = raw.into_inner().validate(at, &id)?;
            if users.iter().any(|u| u.upn.eq_ignore_ascii_case(&user.upn)) {
                return Err(at.error(Some(span), format!("user '{}' is declared twice", user.upn)));
            }
            if users.iter().any(|u| u.object_id == user.object_id)
                || apps.iter().any(|a| a.object_id == user.object_id)
            {
                return Err(at.error(Some(span), format!("object_id '{}' is declared twice", user.object_id)));
            }
            users.push(user);
        }

        let mut intune_roles: Vec<IntuneRole> = Vec::new();
        for raw in self.intune_role {
            let span = raw.span();
            let raw = raw.into_inner();
            let display_name = raw.display_name.get_ref().trim().to_string();
            if display_name.is_empty() {
                return Err(at.at(&raw.display_name, "an Intune role needs a display_name"));
            }
            let role_id = match &raw.id {
                Some(v) => at.guid(v, "Intune role id")?,
                None => derived_id(&[&id, "intune-role", &display_name]),
            };
            let mut perms = Vec::new();
            for p in &raw.permissions {
                let name = p.get_ref().trim();
                if name != intune::ALL && !valid_permission_name(name) {
                    return Err(at.at(p, format!("'{name}' is not an Intune permission name")));
                }
                perms.push(name.to_string());
            }
            if intune_roles
                .iter()
                .any(|r| r.id == role_id || r.display_name.eq_ignore_ascii_case(&display_name))
            {
                return Err(at.error(Some(span), format!("Intune role '{display_name}' is declared twice")));
            }
            intune_roles.push(IntuneRole { id: role_id, display_name, permissions: perms });
        }

        let mut intune_role_assignments = Vec::new();
        for raw in self.intune_role_assignment {
            let raw = raw.into_inner();
            let wanted = raw.role.get_ref().trim();
            let role = intune_roles
                .iter()
                .find(|r| r.id.eq_ignore_ascii_case(wanted) || r.display_name.eq_ignore_ascii_case(wanted))
                .ok_or_else(|| at.at(&raw.role, format!("no [[tenant.intune_role]] named '{wanted}'")))?;
            let mut member_ids = Vec::new();
            for m in &raw.members {
                let wanted = m.get_ref().trim();
                let user = users
                    .iter()
                    .find(|u| u.upn.eq_ignore_ascii_case(wanted) || u.object_id.eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| {
                        at.at(m, format!("no [[tenant.user]] with UPN or object_id '{wanted}'"))
                    })?;
                member_ids.push(user.object_id.clone());
            }
            let display_name = raw.display_name.unwrap_or_else(|| role.display_name.clone());
            let assignment_id = match &raw.id {
                Some(v) => at.guid(v, "Intune role assignment id")?,
                None => derived_id(&[&id, "intune-role-assignment", &role.id, &display_name]),
            };
            intune_role_assignments.push(IntuneRoleAssignment {
                id: assignment_id,
                display_name,
                role_id: role.id.clone(),
                member_ids,
            });
        }

        Ok(Tenant {
            display_name: self.display_name.unwrap_or_else(|| domain.clone()),
            id,
            domain,
            apps,
            users,
            intune_roles,
            intune_role_assignments,
        })
    }
}

impl RawApp {
    fn validate(self, at: &Locator<'_>, tenant_id: &str) -> Result<AppRegistration, DirectoryError> {
        let client_id = at.guid(&self.client_id, "client_id")?;
        let object_id = match &self.object_id {
            Some(v) => at.guid(v, "object_id")?,
            None => derived_id(&[tenant_id, "service-principal", &client_id]),
        };
        let mut secrets = Vec::new();
        for s in &self.secrets {
            let secret = match s.get_ref() {
                RawSecret::Plain(value) => ClientSecret { value: value.clone(), expires: None },
                RawSecret::WithExpiry { value, expires } => {
                    let expires = match expires {
                        None => None,
                        Some(text) => Some(
                            DateTime::parse_from_rfc3339(text.trim())
                                .map_err(|_| {
                                    at.at(
                                        s,
                                        format!(
                                            "expires '{text}' is not a date-time with an offset, such as 2030-01-01T00:00:00Z"
                                        ),
                                    )
                                })?
                                .with_timezone(&Utc),
                        ),
                    };
                    ClientSecret { value: value.clone(), expires }
                }
            };
            if secret.value.is_empty() {
                return Err(at.at(s, "a client secret may not be empty"));
            }
            secrets.push(secret);
        }
        if self.public_client && !secrets.is_empty() {
            return Err(at.at(&self.client_id, "a public client (public_client = true) may not have secrets"));
        }
        if !self.public_client && secrets.is_empty() {
            return Err(at.at(
                &self.client_id,
                "a confidential app needs at least one secret (or set public_client = true)",
            ));
        }
        let names = |list: &[Spanned<String>]| -> Result<Vec<String>, DirectoryError> {
            list.iter()
                .map(|p| {
                    let name = p.get_ref().trim();
                    if valid_permission_name(name) {
                        Ok(name.to_string())
                    } else {
                        Err(at.at(p, format!("'{name}' is not a Graph permission name")))
                    }
                })
                .collect()
        };
        let application_permissions = names(&self.application_permissions)?;
        if self.public_client && !application_permissions.is_empty() {
            return Err(at.at(
                &self.client_id,
                "a public client cannot hold application permissions (it cannot use client credentials)",
            ));
        }
        let delegated_permissions = names(&self.delegated_permissions)?;
        let redirect_uris = match self.redirect_uris {
            None => loopback_redirect_uris(),
            Some(list) => {
                let mut out = Vec::new();
                for uri in &list {
                    let value = uri.get_ref().trim();
                    if value.is_empty() || !value.contains(':') || value.contains(char::is_whitespace) {
                        return Err(at.at(uri, format!("'{value}' is not a redirect URI")));
                    }
                    out.push(value.to_string());
                }
                out
            }
        };
        Ok(AppRegistration {
            client_id,
            object_id,
            display_name: self.display_name,
            secrets,
            public_client: self.public_client,
            application_permissions,
            delegated_permissions,
            redirect_uris,
        })
    }
}

impl RawUser {
    fn validate(self, at: &Locator<'_>, tenant_id: &str) -> Result<User, DirectoryError> {
        let upn = self.upn.get_ref().trim().to_string();
        let valid_upn = upn.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
        if !valid_upn {
            return Err(at.at(&self.upn, format!("'{upn}' is not a user principal name (name@domain)")));
        }
        let object_id = match &self.object_id {
            Some(v) => at.guid(v, "object_id")?,
            None => derived_id(&[tenant_id, "user", &upn]),
        };
        if self.password.is_empty() {
            return Err(at.at(&self.upn, "a user needs a non-empty password"));
        }
        let mut directory_roles = Vec::new();
        for role in &self.directory_roles {
            let value = role.get_ref().trim();
            let id = match Uuid::parse_str(value) {
                Ok(u) => u.hyphenated().to_string(),
                Err(_) => directory_roles::template_id_for(value)
                    .ok_or_else(|| {
                        let known: Vec<&str> = directory_roles::BY_NAME.iter().map(|(n, _)| *n).collect();
                        at.at(
                            role,
                            format!(
                                "unknown directory role '{value}': give a role template id or one of: {}",
                                known.join(", ")
                            ),
                        )
                    })?
                    .to_string(),
            };
            if !directory_roles.contains(&id) {
                directory_roles.push(id);
            }
        }
        let display_name =
            self.display_name.unwrap_or_else(|| upn.split('@').next().unwrap_or_default().to_string());
        Ok(User {
            object_id,
            upn,
            display_name,
            given_name: self.given_name,
            surname: self.surname,
            password: self.password,
            directory_roles,
        })
    }
}

/// The Graph resource ids, re-exported for callers that only hold a directory.
pub use well_known::{GRAPH_APP_ID, GRAPH_RESOURCE_URI};

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("tenant.example.toml");

    #[test]
    fn example_file_parses_and_resolves_references() {
        let dir = Directory::from_toml_str(EXAMPLE, "tenant.example.toml").expect("example parses");
        let t = dir.resolve("fabrikam.onmicrosoft.com").expect("tenant by domain");
        let TenantScope::Tenant(t) = t else { panic!("expected a tenant") };
        assert_eq!(t.id, "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100");
        let reader = t.app("3F2A1B0C-0D9E-4F8A-B7C6-D5E4F3A2B201").expect("app lookup is case-insensitive");
        assert_eq!(reader.application_permissions, vec!["DeviceManagementApps.Read.All"]);
        assert_eq!(reader.secrets.len(), 2);
        assert!(reader.secrets[1].expires.is_some());
        let auditor = t.user_by_upn("Auditor@Fabrikam.onmicrosoft.com").expect("user");
        assert_eq!(t.intune_permissions_of(&auditor.object_id), vec![intune::AUDIT_READ.to_string()]);
        let admin = t.user_by_upn("admin@fabrikam.onmicrosoft.com").expect("admin");
        assert_eq!(admin.directory_roles, vec![directory_roles::GLOBAL_ADMINISTRATOR.to_string()]);
        // Objects without an id get a stable, name-derived one.
        let again = Directory::from_toml_str(EXAMPLE, "x").expect("parses twice");
        let TenantScope::Tenant(t2) = again.resolve("fabrikam.onmicrosoft.com").expect("tenant") else {
            panic!()
        };
        assert_eq!(
            t2.user_by_upn("auditor@fabrikam.onmicrosoft.com").map(|u| &u.object_id),
            Some(&auditor.object_id)
        );
    }

    #[test]
    fn development_tenant_is_fixed() {
        let dir = Directory::development();
        let TenantScope::Tenant(t) = dir.resolve(dev::TENANT_DOMAIN).expect("dev tenant") else { panic!() };
        assert_eq!(t.id, dev::TENANT_ID);
        assert_eq!(t.apps.len(), 4);
        assert!(t.app(dev::PUBLIC_CLIENT_ID).is_some_and(|a| a.public_client));
        let auditor = t.user_by_upn(dev::AUDITOR_UPN).expect("auditor");
        assert_eq!(auditor.object_id, dev::AUDITOR_OBJECT_ID);
        assert_eq!(t.intune_permissions_of(dev::AUDITOR_OBJECT_ID), vec![intune::AUDIT_READ]);
        assert!(!t.intune_permissions_of(dev::HELPDESK_OBJECT_ID).contains(&intune::AUDIT_READ.to_string()));
        assert!(matches!(dir.resolve("common"), Some(TenantScope::Any)));
        assert!(dir.resolve("fabrikam.com").is_none());
    }

    fn parse_err(text: &str) -> DirectoryError {
        Directory::from_toml_str(text, "tenants.toml").expect_err("should fail")
    }

    #[test]
    fn syntax_error_names_line() {
        let err = parse_err("[[tenant]]\nid = \"7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001\"\ndomain = contoso\n");
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.to_string().starts_with("tenants.toml: line 3"), "{err}");
    }

    #[test]
    fn unknown_field_names_line() {
        let err = parse_err(
            "[[tenant]]\nid = \"7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001\"\ndomain = \"a.example\"\n\n[[tenant.user]]\nupn = \"a@a.example\"\npasword = \"x\"\n",
        );
        assert_eq!(err.line, Some(7), "{err}");
        assert!(err.message.contains("pasword"), "{err}");
    }

    #[test]
    fn bad_guid_names_line_and_value() {
        let err = parse_err("[[tenant]]\nid = \"not-a-guid\"\ndomain = \"a.example\"\n");
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("'not-a-guid' is not a GUID"), "{err}");
    }

    #[test]
    fn unknown_role_reference_names_line() {
        let text = r#"
[[tenant]]
id = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001"
domain = "a.example"

[[tenant.user]]
upn = "u@a.example"
password = "p"

[[tenant.intune_role_assignment]]
role = "Auditors"
members = ["u@a.example"]
"#;
        let err = parse_err(text);
        assert_eq!(err.line, Some(11), "{err}");
        assert!(err.message.contains("no [[tenant.intune_role]] named 'Auditors'"), "{err}");
    }

    #[test]
    fn unknown_directory_role_and_member_name_line() {
        let text = "[[tenant]]\nid = \"7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001\"\ndomain = \"a.example\"\n[[tenant.user]]\nupn = \"u@a.example\"\npassword = \"p\"\ndirectory_roles = [\"Chief Wizard\"]\n";
        let err = parse_err(text);
        assert_eq!(err.line, Some(7));
        assert!(err.message.contains("unknown directory role 'Chief Wizard'"), "{err}");

        let text = "[[tenant]]\nid = \"7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001\"\ndomain = \"a.example\"\n[[tenant.intune_role]]\ndisplay_name = \"R\"\npermissions = [\"Microsoft.Intune_Audit_Read\"]\n[[tenant.intune_role_assignment]]\nrole = \"R\"\nmembers = [\"ghost@a.example\"]\n";
        let err = parse_err(text);
        assert_eq!(err.line, Some(9));
        assert!(err.message.contains("ghost@a.example"), "{err}");
    }

    #[test]
    fn confidential_app_without_secret_is_rejected() {
        let text = "[[tenant]]\nid = \"7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001\"\ndomain = \"a.example\"\n[[tenant.app]]\nclient_id = \"00000000-0000-0000-0000-00000000a001\"\ndisplay_name = \"x\"\n";
        let err = parse_err(text);
        assert_eq!(err.line, Some(5));
        assert!(err.message.contains("needs at least one secret"), "{err}");
    }

    #[test]
    fn duplicate_tenant_is_rejected() {
        let text = "[[tenant]]\nid = \"7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001\"\ndomain = \"a.example\"\n[[tenant]]\nid = \"7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001\"\ndomain = \"b.example\"\n";
        let err = parse_err(text);
        assert_eq!(err.line, Some(5), "{err}");
        assert!(err.message.contains("declared twice"));
    }

    #[test]
    fn empty_file_is_rejected() {
        assert!(parse_err("# nothing\n").message.contains("no [[tenant]]"));
    }

    #[test]
    fn loopback_redirects_ignore_port() {
        assert!(redirect_matches("http://localhost", "http://localhost:53124/callback"));
        assert!(redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:8400/cb"));
        assert!(!redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:8400/other"));
        assert!(redirect_matches("http://[::1]", "http://[::1]:9000/"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example/cb2"));
        assert!(!redirect_matches("http://localhost", "http://evil.example/"));
    }
}
