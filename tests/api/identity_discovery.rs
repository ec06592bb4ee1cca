//! Discovery on the https origin: the OpenID configuration in every tenant
//! spelling, instance discovery, and the JWKS that verifies issued tokens.

use jsonwebtoken::Algorithm;
use oauth2::{AuthType, TokenResponse as _};
use serde_json::Value;

use crate::helpers::{GRAPH_DEFAULT, READER, TENANT, app_token, call, jwt_part, sqlite, tls};

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
async fn discovery_on_https_points_at_its_origin_and_jwks_matches_tokens() {
    let app = sqlite(&[]).await;
    let origin = app.https_address.clone();
    let https = tls(&origin, app.data_dir());

    for tenant in [TENANT, "contoso.onmicrosoft.com", "common", "organizations"] {
        for path in [
            format!("/{tenant}/v2.0/.well-known/openid-configuration"),
            format!("/{tenant}/.well-known/openid-configuration"),
        ] {
            let reply = call(&https, "GET", &format!("{origin}{path}"), None, None).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
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
            assert_eq!(doc["msgraph_host"], origin.trim_start_matches("https://"));
        }
    }
    let reply =
        call(&https, "GET", &format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration"), None, None)
            .await;
    let doc = reply.body;
    assert_eq!(doc["token_endpoint"], format!("{origin}/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(doc["device_authorization_endpoint"], format!("{origin}/{TENANT}/oauth2/v2.0/devicecode"));

    // Instance discovery (for clients that do not disable it) names this origin too.
    let authorize = format!("{origin}/{TENANT}/oauth2/v2.0/authorize");
    let url =
        format!("{origin}/common/discovery/instance?api-version=1.1&authorization_endpoint={authorize}");
    let reply = call(&https, "GET", &url, None, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["tenant_discovery_endpoint"],
        format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration")
    );

    // The JWKS publishes the key whose kid is in every token header, and verifies it.
    let jwks = call(&https, "GET", doc["jwks_uri"].as_str().unwrap(), None, None).await.body;
    let token = app_token(&https, &origin, READER, AuthType::RequestBody, GRAPH_DEFAULT).await;
    let token = token.access_token().secret().clone();
    let header = jwt_part(&token, 0);
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
    for tenant in ["common", "contoso.onmicrosoft.com"] {
        let other =
            call(&https, "GET", &format!("{origin}/{tenant}/discovery/v2.0/keys"), None, None).await.body;
        assert_eq!(other["keys"][0]["kid"], jwk["kid"], "{tenant}");
        let v1 = call(&https, "GET", &format!("{origin}/{tenant}/discovery/keys"), None, None).await.body;
        assert_eq!(v1["keys"][0]["kid"], jwk["kid"], "{tenant} (v1)");
    }
}
