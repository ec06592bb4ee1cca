//! A tenant file (`--tenant-file`) in place of the development tenant: its
//! apps, users and Intune roles decide and are recorded; a malformed file stops
//! start-up naming the line; the shipped example serves tokens and refuses its
//! expired secret.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, ClientSecret, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse as _, TokenUrl,
};
use serde_json::{Value, json};

use crate::helpers::{
    GRAPH_DEFAULT, READWRITE_ALL, TENANT, USER_403, WRITER, assert_403, assert_aadsts, bearer, call,
    jwt_part, plain, post_form, sample_without, serve_in,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intune_role_permissions_from_a_tenant_file_decide_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let tenant_file = dir.path().join("tenants.toml");
    std::fs::write(
        &tenant_file,
        r#"
[[tenant]]
id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100"
domain = "fabrikam.onmicrosoft.com"

[[tenant.app]]
client_id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b202"
display_name = "fabrikam-automation"
secrets = ["automation-secret", { value = "rotated-out", expires = 2024-01-01T00:00:00Z }]
application_permissions = ["DeviceManagementApps.ReadWrite.All"]

[[tenant.app]]
client_id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b210"
display_name = "fabrikam-cli"
public_client = true
delegated_permissions = ["DeviceManagementApps.ReadWrite.All"]

[[tenant.user]]
upn = "operator@fabrikam.onmicrosoft.com"
object_id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b401"
password = "Op3rator!"

[[tenant.user]]
upn = "viewer@fabrikam.onmicrosoft.com"
password = "Op3rator!"

[[tenant.intune_role]]
display_name = "Audit Operator"
permissions = ["Microsoft.Intune_Audit_Read", "Microsoft.Intune_Audit_Write"]

[[tenant.intune_role]]
display_name = "Audit Reader"
permissions = ["Microsoft.Intune_Audit_Read"]

[[tenant.intune_role_assignment]]
role = "Audit Operator"
members = ["operator@fabrikam.onmicrosoft.com"]

[[tenant.intune_role_assignment]]
role = "Audit Reader"
members = ["viewer@fabrikam.onmicrosoft.com"]
"#,
    )
    .unwrap();
    let file = tenant_file.display().to_string();
    let (base, _, banner) = serve_in(dir.path(), &["--tenant-file", &file]).await.expect("starts");
    assert!(banner.contains(&file), "{banner}");
    let http = plain();
    let tenant = "fabrikam.onmicrosoft.com";
    let password = |upn: &str| {
        let http = http.clone();
        let (base, upn) = (base.clone(), upn.to_string());
        async move {
            let token = BasicClient::new(ClientId::new("3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b210".into()))
                .set_token_uri(TokenUrl::new(format!("{base}/{tenant}/oauth2/v2.0/token")).unwrap())
                .exchange_password(
                    &ResourceOwnerUsername::new(upn.clone()),
                    &ResourceOwnerPassword::new("Op3rator!".into()),
                )
                .add_scope(Scope::new(READWRITE_ALL.into()))
                .request_async(&http)
                .await
                .unwrap_or_else(|e| panic!("{upn}: {e:?}"));
            bearer(token.access_token().secret())
        }
    };
    let url = format!("{base}{EVENTS}");

    // An Intune role with Audit_Write writes; the event records the role's permissions.
    let operator = password("operator@fabrikam.onmicrosoft.com").await;
    let reply = call(&http, "POST", &url, Some(&operator), Some(&sample_without("op-1", &["actor"]))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let actor = &reply.body["actor"];
    assert_eq!(actor["auditActorType"], "ItPro");
    assert_eq!(actor["userPrincipalName"], "operator@fabrikam.onmicrosoft.com");
    assert_eq!(actor["userId"], "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b401");
    assert_eq!(
        actor["userPermissions"],
        json!(["Microsoft.Intune_Audit_Read", "Microsoft.Intune_Audit_Write"])
    );

    // Audit_Read alone: reads only.
    let viewer = password("viewer@fabrikam.onmicrosoft.com").await;
    assert_eq!(call(&http, "GET", &url, Some(&viewer), None).await.status, 200);
    let reply = call(&http, "POST", &url, Some(&viewer), Some(&sample_without("v-1", &["actor"]))).await;
    assert!(assert_403(&reply, "viewer writes").starts_with(USER_403));

    // The file's app: client credentials against the tenant's domain.
    let token = BasicClient::new(ClientId::new("3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b202".into()))
        .set_client_secret(ClientSecret::new("automation-secret".into()))
        .set_token_uri(TokenUrl::new(format!("{base}/{tenant}/oauth2/v2.0/token")).unwrap())
        .exchange_client_credentials()
        .add_scope(Scope::new(GRAPH_DEFAULT.into()))
        .request_async(&http)
        .await
        .expect("client credentials");
    let reply = call(
        &http,
        "POST",
        &url,
        Some(&bearer(token.access_token().secret())),
        Some(&sample_without("app-1", &["actor"])),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["actor"]["auditActorType"], "Application");
    assert_eq!(reply.body["actor"]["servicePrincipalName"], "fabrikam-automation");

    // An expired secret of the file's app: AADSTS7000222.
    let response = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b202"),
            ("client_secret", "rotated-out"),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (&body["error"], &body["error_codes"]),
        (&json!("invalid_client"), &json!([7000222])),
        "{body}"
    );

    // The development tenant is gone when a file is given.
    let response = http
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", WRITER.0),
            ("client_secret", WRITER.1),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error_codes"], json!([90002]), "tenant not found");
}

#[test]
fn a_malformed_tenant_file_stops_startup_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // A TOML syntax error on line 4.
        (
            "syntax.toml",
            "[[tenant]]\nid = \"3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100\"\n\ndomain = fabrikam\n",
            "line 4, column 10: ",
        ),
        // Valid TOML, but a client id that is no GUID, on line 6.
        (
            "semantic.toml",
            "[[tenant]]\nid = \"3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100\"\ndomain = \"fabrikam.onmicrosoft.com\"\n\n[[tenant.app]]\nclient_id = \"not-a-guid\"\ndisplay_name = \"x\"\nsecrets = [\"s\"]\n",
            "line 6, column 13: client_id 'not-a-guid' is not a GUID",
        ),
    ];
    for (name, text, line) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let data = dir.path().join(format!("data-{name}"));
        let database = format!("sqlite://{}?mode=rwc", dir.path().join(format!("{name}.db")).display());
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_auditgraph"))
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--https",
                "127.0.0.1:0",
                "--no-demo",
                "--database-url",
                &database,
            ])
            .arg("--data-dir")
            .arg(&data)
            .arg("--tenant-file")
            .arg(&file)
            .env_remove("AUDITGRAPH_AUTH")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run auditgraph");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().ok();
                panic!("{name}: auditgraph started despite a malformed tenant file");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{name}: {stderr}");
        let expected = format!("{}: {line}", file.display());
        assert!(stderr.contains(&expected), "{name}: the error should name '{expected}':\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_secret_from_tenant_file() {
    // The example tenant file shipped beside the directory code.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenants.toml");
    std::fs::write(&file, include_str!("../../src/directory/tenant.example.toml"))
        .expect("write tenant file");
    let (base, _, _) =
        serve_in(dir.path(), &["--tenant-file", file.to_str().unwrap()]).await.expect("starts");
    let http = plain();
    let token_endpoint = format!("{base}/fabrikam.onmicrosoft.com/oauth2/v2.0/token");
    let cc = |secret: &'static str| {
        [
            ("grant_type", "client_credentials"),
            ("client_id", "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b201"),
            ("client_secret", secret),
            ("scope", GRAPH_DEFAULT),
        ]
    };
    let reply = post_form(&http, &token_endpoint, &cc("rotated-out")).await;
    assert_aadsts(&reply, 401, "invalid_client", 7000222, "expired secret");
    let reply = post_form(&http, &token_endpoint, &cc("siem-secret")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let c = jwt_part(reply.body["access_token"].as_str().expect("token"), 1);
    assert_eq!(c["tid"], "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100");
}
