//! Scope parsing: which resource a request is for (always Graph here), which
//! `aud` form the token gets, and which permissions a delegated token carries.
//!
//! Rules (identity.md §6, clients.md §7 #15):
//! - Graph is named as `https://graph.microsoft.com`, as its app id
//!   `00000003-0000-0000-c000-000000000000`, or, because kiota derives the
//!   scope from the request URL, as auditgraph's own URL
//!   (`http(s)://<own host>[:port]`). The URI form and the own-URL form give
//!   `aud = https://graph.microsoft.com`; the GUID form gives the GUID.
//! - Client credentials need exactly one `<resource>/.default` scope.
//! - Delegated requests may name permissions with or without a resource
//!   prefix (a bare name means Graph, as in Entra) plus the OpenID scopes.
//!   `/.default` grants the app's configured delegated permissions; explicitly
//!   named permissions are granted as if the user consented to them.

use super::errors::TokenError;
use crate::directory::AppRegistration;
use crate::directory::well_known::{ARM_RESOURCE_URI, GRAPH_APP_ID, GRAPH_RESOURCE_URI};

/// The `aud` form of a Graph token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Audience {
    /// `https://graph.microsoft.com`
    GraphUri,
    /// `00000003-0000-0000-c000-000000000000`
    GraphAppId,
    /// `https://management.azure.com`: Azure Resource Manager.
    Arm,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::GraphUri => GRAPH_RESOURCE_URI,
            Audience::GraphAppId => GRAPH_APP_ID,
            Audience::Arm => ARM_RESOURCE_URI,
        }
    }
}

const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

fn is_oidc(scope: &str) -> bool {
    OIDC_SCOPES.iter().any(|s| s.eq_ignore_ascii_case(scope))
}

/// Host names (lower case, IPv6 without brackets) that mean "this emulator".
#[derive(Debug, Clone, Default)]
pub struct OwnHosts(Vec<String>);

impl OwnHosts {
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for h in hosts {
            let h = normalise_host(&h);
            if !h.is_empty() && !out.contains(&h) {
                out.push(h);
            }
        }
        Self(out)
    }

    /// The same set plus the host of the current request (from `Host`), so a
    /// scope derived from whatever name the client used is recognised.
    pub fn with_request_host(&self, host_header: Option<&str>) -> Self {
        let mut hosts = self.0.clone();
        if let Some(h) = host_header.map(strip_port).map(normalise_host)
            && !h.is_empty()
            && !hosts.contains(&h)
        {
            hosts.push(h);
        }
        Self(hosts)
    }

    fn contains(&self, host: &str) -> bool {
        let host = normalise_host(host);
        self.0.contains(&host)
    }
}

fn normalise_host(host: &str) -> String {
    host.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

/// `host[:port]` or `[v6]:port` → host.
pub fn strip_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(h, _)| h);
    }
    match authority.rsplit_once(':') {
        // A second colon means a bare IPv6 address without a port.
        Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// Which audience (Graph's, or ARM's) a resource identifier names, if any.
fn graph_audience(resource: &str, own: &OwnHosts) -> Option<Audience> {
    let resource = resource.trim_end_matches('/');
    if resource.eq_ignore_ascii_case(GRAPH_RESOURCE_URI) {
        return Some(Audience::GraphUri);
    }
    if resource.eq_ignore_ascii_case(GRAPH_APP_ID) {
        return Some(Audience::GraphAppId);
    }
    if resource.eq_ignore_ascii_case(ARM_RESOURCE_URI)
        || resource.eq_ignore_ascii_case("https://management.core.windows.net")
    {
        return Some(Audience::Arm);
    }
    let lower = resource.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"))?;
    // Only scheme://authority; a path means some other resource.
    if rest.contains('/') {
        return None;
    }
    own.contains(strip_port(rest)).then_some(Audience::GraphUri)
}

/// Validates a client-credentials scope; returns the token's audience.
pub fn client_credentials_audience(scope: &str, own: &OwnHosts) -> Result<Audience, TokenError> {
    let wanted: Vec<&str> = scope.split_whitespace().filter(|s| !is_oidc(s)).collect();
    if wanted.is_empty() || wanted.iter().any(|s| !s.ends_with("/.default")) {
        return Err(TokenError::scope_not_default(scope.trim()));
    }
    let mut audience = None;
    for s in &wanted {
        let resource = &s[..s.len() - "/.default".len()];
        match graph_audience(resource, own) {
            // Two `.default` scopes for the same resource are harmless.
            Some(a) if audience.is_none() || audience == Some(a) => audience = Some(a),
            Some(_) => return Err(TokenError::invalid_scope(scope.trim())),
            None => return Err(TokenError::invalid_scope(s)),
        }
    }
    audience.ok_or_else(|| TokenError::scope_not_default(scope.trim()))
}

/// A parsed delegated scope request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedScope {
    pub audience: Audience,
    /// Granted Graph permission names, without a resource prefix.
    pub permissions: Vec<String>,
    /// How the client spelled the resource (`""` for bare names), so the
    /// response's `scope` echoes the spelling MSAL caches under.
    pub prefix: String,
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
    pub offline_access: bool,
}

impl DelegatedScope {
    /// The `scp` claim: permissions, then the OpenID scopes, space-separated.
    pub fn scp(&self) -> String {
        let mut parts: Vec<&str> = self.permissions.iter().map(String::as_str).collect();
        for (on, name) in [(self.openid, "openid"), (self.profile, "profile"), (self.email, "email")] {
            if on {
                parts.push(name);
            }
        }
        parts.join(" ")
    }

    /// The `scope` field of the token response.
    pub fn response_scope(&self) -> String {
        let mut parts: Vec<String> = self.permissions.iter().map(|p| format!("{}{p}", self.prefix)).collect();
        for (on, name) in [(self.openid, "openid"), (self.profile, "profile"), (self.email, "email")] {
            if on {
                parts.push(name.to_string());
            }
        }
        parts.join(" ")
    }
}

/// Parses a delegated scope request for `app`.
pub fn delegated_scope(
    scope: &str,
    app: &AppRegistration,
    own: &OwnHosts,
) -> Result<DelegatedScope, TokenError> {
    let mut parsed = DelegatedScope {
        audience: Audience::GraphAppId,
        permissions: Vec::new(),
        prefix: String::new(),
        openid: false,
        profile: false,
        email: false,
        offline_access: false,
    };
    let mut audience: Option<Audience> = None;
    let mut used_default = false;
    let mut explicit = false;
    for s in scope.split_whitespace() {
        match s.to_ascii_lowercase().as_str() {
            "openid" => parsed.openid = true,
            "profile" => parsed.profile = true,
            "email" => parsed.email = true,
            "offline_access" => parsed.offline_access = true,
            _ => {
                // Bare names mean Graph; prefixed ones must name Graph, and
                // all prefixed ones the same form of it.
                let (resource, permission) = s.rsplit_once('/').unwrap_or(("", s));
                if !resource.is_empty() {
                    let this = graph_audience(resource, own).ok_or_else(|| TokenError::invalid_scope(s))?;
                    match audience {
                        Some(previous) if previous != this => {
                            return Err(TokenError::invalid_scope(scope.trim()));
                        }
                        Some(_) => {}
                        None => {
                            audience = Some(this);
                            parsed.prefix = format!("{resource}/");
                        }
                    }
                }
                if permission == ".default" {
                    used_default = true;
                    for p in &app.delegated_permissions {
                        if !parsed.permissions.contains(p) {
                            parsed.permissions.push(p.clone());
                        }
                    }
                } else {
                    let valid = !permission.is_empty()
                        && permission
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                    if !valid {
                        return Err(TokenError::invalid_scope(s));
                    }
                    explicit = true;
                    if !parsed.permissions.iter().any(|p| p.eq_ignore_ascii_case(permission)) {
                        parsed.permissions.push(permission.to_string());
                    }
                }
            }
        }
    }
    // Entra refuses `/.default` combined with named permissions of the same resource.
    if used_default && explicit {
        return Err(TokenError::invalid_scope(scope.trim()));
    }
    if let Some(a) = audience {
        parsed.audience = a;
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Directory;
    use crate::directory::well_known::dev;

    fn own() -> OwnHosts {
        OwnHosts::new(["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()])
    }

    #[test]
    fn client_credentials_scopes() {
        let own = own();
        assert_eq!(
            client_credentials_audience("https://graph.microsoft.com/.default", &own),
            Ok(Audience::GraphUri)
        );
        assert_eq!(
            client_credentials_audience("00000003-0000-0000-c000-000000000000/.default", &own),
            Ok(Audience::GraphAppId)
        );
        assert_eq!(client_credentials_audience("http://127.0.0.1/.default", &own), Ok(Audience::GraphUri));
        assert_eq!(
            client_credentials_audience("https://localhost:5443/.default", &own),
            Ok(Audience::GraphUri)
        );
        assert_eq!(client_credentials_audience("http://[::1]:8080/.default", &own), Ok(Audience::GraphUri));
        let e = client_credentials_audience("DeviceManagementApps.Read.All", &own).expect_err("not .default");
        assert_eq!(e.code, 1002012);
        let e = client_credentials_audience("https://foo.microsoft.com/.default", &own).expect_err("unknown");
        assert_eq!(e.code, 70011);
        assert!(e.description.contains("https://foo.microsoft.com/.default"));
        let e = client_credentials_audience("http://localhost/api/.default", &own).expect_err("path");
        assert_eq!(e.code, 70011);
    }

    #[test]
    fn delegated_scopes() {
        let dir = Directory::development();
        let app = dir.tenants()[0].app(dev::PUBLIC_CLIENT_ID).expect("public client");
        let own = own();
        let s = delegated_scope("DeviceManagementApps.Read.All openid profile offline_access", app, &own)
            .expect("ok");
        assert_eq!(s.audience, Audience::GraphAppId);
        assert_eq!(s.scp(), "DeviceManagementApps.Read.All openid profile");
        assert!(s.offline_access);

        let s = delegated_scope("https://graph.microsoft.com/DeviceManagementApps.ReadWrite.All", app, &own)
            .expect("ok");
        assert_eq!(s.audience, Audience::GraphUri);
        assert_eq!(s.response_scope(), "https://graph.microsoft.com/DeviceManagementApps.ReadWrite.All");

        let s =
            delegated_scope("https://graph.microsoft.com/.default offline_access", app, &own).expect("ok");
        assert_eq!(s.permissions, app.delegated_permissions);

        assert_eq!(
            delegated_scope("https://graph.microsoft.com/.default User.Read", app, &own).map_err(|e| e.code),
            Err(70011)
        );
        assert_eq!(delegated_scope("api://other/read", app, &own).map_err(|e| e.code), Err(70011));
    }
}
