//! The directory: the development tenant and the tenant file.
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
    assert_eq!(t.apps.len(), 7);
    let intune_admin = t.app(dev::INTUNE_ADMIN_CLIENT_ID).expect("intune admin app");
    assert!(
        intune_admin.application_permissions.iter().all(|p| permissions::WORKLOADS.contains(&p.as_str()))
    );
    assert_eq!(intune_admin.application_permissions.len(), permissions::WORKLOADS.len());
    assert!(
        t.app(dev::PORTAL_CLIENT_ID)
            .is_some_and(|a| a.public_client && a.display_name == "Microsoft Intune portal extension")
    );
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
