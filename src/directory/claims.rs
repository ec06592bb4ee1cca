//! What a Graph access token says: the claims the token service writes and the
//! resource side (`auth`) reads. Shared here so neither side imports the other.

use serde::{Deserialize, Serialize};

/// The claims of a Graph access token. Also what the resource side decodes,
/// which is why every claim but the core ones is optional: external tokens
/// (trusted JWKS) may lack them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AccessTokenClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_displayname: Option<String>,
    #[serde(default)]
    pub appid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appidacr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipaddr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub oid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default)]
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_region_scope: Option<String>,
    #[serde(default)]
    pub tid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uti: Option<String>,
    #[serde(default)]
    pub ver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xms_cc: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xms_tcdt: Option<i64>,
}

/// The v1 issuer Graph tokens carry, whatever endpoint issued them.
pub fn v1_issuer(tenant_id: &str) -> String {
    format!("https://sts.windows.net/{tenant_id}/")
}
