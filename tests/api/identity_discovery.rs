//! Discovery on the https origin: the OpenID configuration in every tenant
//! spelling, instance discovery, the JWKS that verifies issued tokens, and
//! user realm discovery.

use auditgraph::identity::keys::SigningKey;
use jsonwebtoken::Algorithm;
use oauth2::{AuthType, TokenResponse as _};
use serde_json::{Value, json};

use crate::helpers::{
    AUDITOR, GRAPH_DEFAULT, READER, TENANT, app_token, assert_aadsts, call, jwt_part, plain, sqlite, tls,
};

const DOMAIN: &str = "contoso.onmicrosoft.com";

/// Every string in `doc` that looks like a URL.
fn urls(doc: &Value, out: &mut Vec<String>) {
    match doc {
        Value::String(s) if s.contains("://") => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| urls(v, out)),
        Value::Object(map) => map.values().for_each(|v| urls(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_on_https_points_at_its_origin_in_every_tenant_spelling() {
    let app = sqlite(&[]).await;
    let origin = app.https_address.clone();
    let host = origin.trim_start_matches("https://").to_string();
    let https = tls(&origin, app.data_dir());

    for tenant in [TENANT, DOMAIN, "common", "organizations"] {
        // The domain names the tenant; the endpoints carry its id.
        let segment = if tenant == DOMAIN { TENANT } else { tenant };
        for (v2, path) in [
            (true, format!("/{tenant}/v2.0/.well-known/openid-configuration")),
            (false, format!("/{tenant}/.well-known/openid-configuration")),
        ] {
            let reply = call(&https, "GET", &format!("{origin}{path}"), None, None).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            assert_eq!(reply.header("cache-control"), Some("max-age=86400, private"), "{path}");
            let doc = &reply.body;
            for key in ["authorization_endpoint", "token_endpoint", "issuer", "jwks_uri"] {
                assert!(doc[key].is_string(), "{path}: {key} missing");
            }
            let mut found = Vec::new();
            urls(doc, &mut found);
            for url in &found {
                let allowed = url.starts_with(&format!("{origin}/"))
                    || url == &origin
                    || url.starts_with("https://sts.windows.net/");
                assert!(allowed, "{path}: {url} does not point at {origin}");
            }
            assert!(!doc.to_string().contains("login.microsoftonline.com"), "{path}: {doc}");
            assert_eq!(doc["msgraph_host"], host.as_str());
            if v2 {
                for key in [
                    "token_endpoint",
                    "jwks_uri",
                    "authorization_endpoint",
                    "device_authorization_endpoint",
                    "end_session_endpoint",
                    "issuer",
                    "userinfo_endpoint",
                ] {
                    let url = doc[key].as_str().unwrap_or_else(|| panic!("{path}: {key} missing"));
                    assert!(url.starts_with(&format!("{origin}/")), "{path}: {key} = {url}");
                }
                assert_eq!(doc["token_endpoint"], format!("{origin}/{segment}/oauth2/v2.0/token"), "{path}");
            }
        }
    }
    let get = |path: String| {
        let (https, url) = (https.clone(), format!("{origin}{path}"));
        async move { call(&https, "GET", &url, None, None).await }
    };
    let doc = get(format!("/{TENANT}/v2.0/.well-known/openid-configuration")).await.body;
    assert_eq!(doc["token_endpoint"], format!("{origin}/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(doc["device_authorization_endpoint"], format!("{origin}/{TENANT}/oauth2/v2.0/devicecode"));
    // Without a tenant the issuer is a template, as Entra's is.
    let doc = get("/common/v2.0/.well-known/openid-configuration".into()).await.body;
    assert_eq!(doc["issuer"], format!("{origin}/{{tenantid}}/v2.0"));
    // The v1 document names the v1 issuer and token endpoint.
    let v1 = get(format!("/{TENANT}/.well-known/openid-configuration")).await.body;
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(v1["token_endpoint"], format!("{origin}/{TENANT}/oauth2/token"));
    // An unknown tenant is Entra's error.
    let reply = get("/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration".into()).await;
    let body = assert_aadsts(&reply, 400, "invalid_tenant", 90002, "unknown tenant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("Tenant 'fabrikam.onmicrosoft.com' not found."),
        "{body}"
    );

    // Instance discovery (for clients that do not disable it) names this origin too.
    let authorize = format!("{origin}/{TENANT}/oauth2/v2.0/authorize");
    let reply =
        get(format!("/common/discovery/instance?api-version=1.1&authorization_endpoint={authorize}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["tenant_discovery_endpoint"],
        format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(reply.body["metadata"][0]["aliases"], json!([host]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_in_every_spelling_publishes_the_key_that_signs_tokens() {
    let app = sqlite(&[]).await;
    let origin = app.https_address.clone();
    let https = tls(&origin, app.data_dir());
    let kid = SigningKey::load_or_create(app.data_dir()).expect("the server's key").kid().to_string();

    // The JWKS publishes the key whose kid is in every token header, and verifies it.
    let doc =
        call(&https, "GET", &format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration"), None, None)
            .await
            .body;
    let jwks = call(&https, "GET", doc["jwks_uri"].as_str().unwrap(), None, None).await.body;
    let token = app_token(&https, &origin, READER, AuthType::RequestBody, GRAPH_DEFAULT).await;
    let token = token.access_token().secret().clone();
    let header = jwt_part(&token, 0);
    assert_eq!(header["kid"], kid.as_str(), "tokens are signed with the key in the data directory");
    assert_eq!(header["alg"], "RS256");
    let keys = jwks["keys"].as_array().expect("keys");
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} not in {jwks}", header["kid"]));
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["x5t"], jwk["kid"]);
    assert_eq!(header["x5t"], header["kid"]);
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://graph.microsoft.com"]);
    validation.set_issuer(&[format!("https://sts.windows.net/{TENANT}/")]);
    jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .expect("the token verifies with the published key");

    // Every spelling, v2.0 and v1, publishes that key; only v2.0 names an issuer.
    for tenant in [TENANT, "common", DOMAIN] {
        for (v2, path) in
            [(true, format!("/{tenant}/discovery/v2.0/keys")), (false, format!("/{tenant}/discovery/keys"))]
        {
            let reply = call(&https, "GET", &format!("{origin}{path}"), None, None).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            let key = &reply.body["keys"][0];
            assert_eq!(key["kty"], "RSA", "{path}");
            assert_eq!(key["use"], "sig", "{path}");
            assert_eq!(key["kid"], kid.as_str(), "{path}");
            assert_eq!(key["x5t"], kid.as_str(), "{path}");
            assert_eq!(key["e"], "AQAB", "{path}");
            assert!(key["x5c"][0].as_str().is_some_and(|c| c.len() > 500), "{path}: {key}");
            assert_eq!(key.get("issuer").is_some(), v2, "{path}: {key}");
        }
    }
    let jwks = call(&https, "GET", &format!("{origin}/{TENANT}/discovery/v2.0/keys"), None, None).await.body;
    assert_eq!(jwks["keys"][0]["issuer"], format!("{origin}/{TENANT}/v2.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_realm_discovery() {
    let app = sqlite(&[]).await;
    let http = plain();
    let reply =
        call(&http, "GET", &app.url(&format!("/common/userrealm/{AUDITOR}?api-version=1.0")), None, None)
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["account_type"], "Managed");
    assert_eq!(reply.body["domain_name"], DOMAIN);
    let reply = call(&http, "GET", &app.url("/common/userrealm/a@b.example"), None, None).await;
    assert_eq!(reply.body["account_type"], "Unknown", "{}", reply.body);
}
