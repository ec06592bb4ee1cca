//! The tenant file: TOML (format in `tenant.example.toml` beside this module)
//! parsed into a [`Directory`]. Raw structs mirror the TOML; `Spanned` keeps
//! positions so that semantic errors (bad GUID, unknown role...) can name their line.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;
use uuid::Uuid;

use super::well_known::{directory_roles, intune};
use super::*;

// ---------------------------------------------------------------------------
// Tenant file parsing. Raw structs mirror the TOML; `Spanned` keeps positions
// so that semantic errors (bad GUID, unknown role...) can name their line.
// ---------------------------------------------------------------------------

/// Parses and validates tenant-file text; `source_name` is used in errors.
pub(super) fn parse(text: &str, source_name: &str) -> Result<Directory, DirectoryError> {
    let at = Locator { text, source_name };
    let raw: RawFile = toml::from_str(text).map_err(|e| at.error(e.span(), e.message()))?;
    raw.validate(&at)
}

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
    /// Azure RBAC actions on Intune's provider scope (diagnostic settings).
    #[serde(default)]
    azure_actions: Vec<Spanned<String>>,
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
            azure_actions: names(&self.azure_actions)?,
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
