//! The admin page compared with the real admin center's Audit logs page:
//! the Target(s) column, an Activity column that
//! agrees with the Activity filter, a details pane that is readable (the
//! permissions as a list, no "removed" tint for a value that never existed, no
//! duplicate fields, Close always in view, the list not squeezed into
//! mid-word breaks), the favicon, and GraphiQL reusing the page's sign-in.
//!
//! Screenshots: `target/browser-artifacts/admin-page-details-open{,-phone}.png`.

use serde_json::{Value, json};

use crate::admin_page::{ADMIN, EVENTS, ROWS, click, event, select, sign_in, spawn, wait_for_count};
use crate::browser::Browser;
use crate::helpers::{Backend, TestApp, client_credentials, days_ago};

/// A creation (no old values) with two targets and several permissions.
fn creation() -> Value {
    let mut e = event(
        "evt-create",
        &days_ago(1),
        "Compliance",
        "Create DeviceCompliancePolicy",
        "Create compliance policy.",
    );
    e["actor"]["userPermissions"] = json!([
        "Microsoft.Intune_DeviceCompliancePolices_Create",
        "Microsoft.Intune_DeviceCompliancePolices_Read",
        "Microsoft.Intune_DeviceCompliancePolices_Assign"
    ]);
    e["resources"] = json!([
        {
            "displayName": "Baseline compliance",
            "auditResourceType": "DeviceCompliancePolicy",
            "resourceId": "6b1c2d3e-0000-4000-8000-00000000c001",
            "modifiedProperties": [
                {"displayName": "Id", "oldValue": null, "newValue": "6b1c2d3e-0000-4000-8000-00000000c001"},
                {"displayName": "Description", "oldValue": "", "newValue": "Baseline"}
            ]
        },
        {
            "displayName": "All devices",
            "auditResourceType": "Group",
            "resourceId": "6b1c2d3e-0000-4000-8000-00000000c002",
            "modifiedProperties": []
        }
    ]);
    e
}

/// The texts of the first row's cells.
async fn first_row(b: &Browser) -> Value {
    b.eval("return [...document.querySelector('#rows tr').cells].map(c => c.innerText)").await
}

/// True when the first row's "Initiated by" cell wraps, if at all, only after
/// the "@" of the UPN: never inside a word.
const UPN_UNBROKEN: &str = r#"
    const cell = document.querySelector('#rows tr').cells[1];
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let previousTop = null, previousChar = '', breaks = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i); range.setEnd(node, i + 1);
        const top = Math.round(range.getBoundingClientRect().top);
        if (previousTop !== null && top > previousTop) breaks.push(previousChar);
        previousTop = top; previousChar = node.data[i];
      }
    }
    return breaks.every(c => c === '@');
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_and_details_read_as_the_admin_center() {
    let app = spawn().await;
    let (status, body) = app.post_json(EVENTS, &creation()).await;
    assert_eq!(status, 201, "{body}");

    // The favicon is served (the page links it; no 404 in the console).
    let plain = reqwest::Client::new();
    let icon = plain.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/x-icon");
    assert!(icon.bytes().await.unwrap().starts_with(&[0, 0, 1, 0]), "an ICO");
    // GraphiQL's page carries no placeholder token.
    let explorer = plain.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    let html = explorer.text().await.unwrap();
    assert!(!html.contains("token>") && !html.contains("u003ctoken"), "a placeholder token:\n{html}");

    let b = Browser::launch().await;
    b.client.goto(&app.url("/auditlogs")).await.unwrap();
    sign_in(&b, ADMIN).await;
    wait_for_count(&b, 63).await;

    // The columns of the real page and of the CSV export, Target(s) included.
    let headings =
        b.eval("return [...document.querySelectorAll('#events thead th')].map(t => t.textContent)").await;
    assert_eq!(
        headings,
        json!([
            "Date",
            "Initiated by (actor)",
            "Application name",
            "Activity",
            "Target(s)",
            "Category",
            "Result"
        ])
    );
    // The filters' labels are in one line, a category chosen or not.
    let label_tops = "return ['f-category', 'f-activity', 'f-range'].map(id => Math.round(document.querySelector(`label[for=${id}]`).getBoundingClientRect().top))";
    let tops = b.eval(label_tops).await;
    assert!(tops[0] == tops[1] && tops[1] == tops[2], "labels out of line: {tops}");

    // The Activity filter offers what the Activity column shows: the list
    // filtered on an activity shows that very activity on every row.
    b.wait_until("document.querySelectorAll('#f-category option').length === 22", "the categories").await;
    select(&b, "#f-category", "Device").await;
    b.wait_until("!document.getElementById('f-activity').disabled", "Device's activities").await;
    let tops = b.eval(label_tops).await;
    assert!(tops[0] == tops[1] && tops[1] == tops[2], "labels out of line: {tops}");
    select(&b, "#f-activity", "Wipe ManagedDevice").await;
    select(&b, "#f-range", "week").await;
    click(&b, "#apply").await;
    wait_for_count(&b, 57).await;
    let shown =
        b.eval("return [...document.querySelectorAll('#rows tr')].map(r => r.cells[3].innerText)").await;
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), 50);
    assert!(
        shown.iter().all(|a| a == "Wipe ManagedDevice"),
        "the column disagrees with the filter: {shown:?}"
    );
    let option = b.eval("return document.getElementById('f-activity').selectedOptions[0].text").await;
    assert_eq!(option, "Wipe ManagedDevice");

    // Target(s): every target's name, as the CSV export writes them.
    select(&b, "#f-category", "Compliance").await;
    b.wait_until("!document.getElementById('f-activity').disabled", "Compliance's activities").await;
    select(&b, "#f-range", "month").await;
    click(&b, "#apply").await;
    wait_for_count(&b, 1).await;
    let cells = first_row(&b).await;
    assert_eq!(cells[3], "Create DeviceCompliancePolicy");
    assert_eq!(cells[4], "Baseline compliance; All devices");

    // Opening the details keeps the filters where they are.
    b.eval("window.scrollTo(0, 0); return true").await;
    click(&b, "#rows tr:first-child button").await;
    b.wait_until("!document.getElementById('details').hidden", "the details pane").await;
    assert_eq!(b.eval("return window.scrollY").await, json!(0), "the page scrolled when the details opened");
    // The list is not squeezed into mid-word breaks.
    assert_eq!(b.eval(UPN_UNBROKEN).await, json!(true), "the UPN breaks mid-word with the details open");

    // The permissions are a list, one item each.
    let permissions =
        b.eval("return [...document.querySelectorAll('#actor-fields li')].map(l => l.textContent)").await;
    assert_eq!(
        permissions,
        json!([
            "Microsoft.Intune_DeviceCompliancePolices_Create",
            "Microsoft.Intune_DeviceCompliancePolices_Read",
            "Microsoft.Intune_DeviceCompliancePolices_Assign"
        ])
    );
    // A missing old value is a dash, not tinted as removed; an empty old value is still an old value.
    let cells = b
        .eval(
            "return [...document.querySelectorAll('#details table.props tbody tr')].map(r => \
             ({ text: r.cells[1].textContent, background: getComputedStyle(r.cells[1]).backgroundColor }))",
        )
        .await;
    assert_eq!(cells[0]["text"], "—");
    assert_eq!(cells[0]["background"], "rgba(0, 0, 0, 0)", "a null old value tinted: {cells}");
    assert_ne!(cells[1]["background"], "rgba(0, 0, 0, 0)", "an empty old value is an old value: {cells}");
    // Each field once, no empty "Activity (raw) —", one actor type.
    let labels = b.eval("return [...document.querySelectorAll('#details dl')].map(d => [...d.children].filter(c => c.tagName === 'DT').map(c => c.textContent))").await;
    for list in labels.as_array().unwrap() {
        let list: Vec<&str> = list.as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let mut unique = list.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), list.len(), "a field twice: {list:?}");
    }
    let actor: Vec<&str> = labels[1].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(actor.contains(&"Actor type") && !actor.contains(&"Type"), "{actor:?}");
    assert!(!actor.contains(&"Audit actor type"), "{actor:?}");
    let pane = b.eval("return document.getElementById('details').innerText").await;
    assert!(!pane.as_str().unwrap().contains("Activity (raw)"), "{pane}");
    b.screenshot("admin-page-details-open").await;

    // A phone: the pane covers the list, and Close stays in view however far it scrolls.
    let shared = b.client.current_url().await.unwrap().to_string();
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&shared).await.unwrap();
    b.wait_until("!document.getElementById('details').hidden", "the details on a phone").await;
    b.wait_until("document.querySelectorAll('#actor-fields li').length === 3", "the details' content").await;
    b.eval("const d = document.getElementById('details'); d.scrollTop = d.scrollHeight; return true").await;
    let close = b
        .eval(
            "const r = document.getElementById('details-close').getBoundingClientRect(); \
             return r.top >= 0 && r.bottom <= window.innerHeight && document.getElementById('details').scrollTop > 0",
        )
        .await;
    assert_eq!(close, json!(true), "Close scrolled out of view");
    b.screenshot("admin-page-details-open-phone").await;
    click(&b, "#details-close").await;
    b.wait_until("document.getElementById('details').hidden", "the pane to close").await;
    assert!(b.eval(&format!("return {ROWS}")).await.as_u64().unwrap() >= 1);

    // GraphiQL, opened in the same tab, runs with the page's token.
    b.client.set_window_size(1366, 900).await.unwrap();
    b.client.goto(&app.url("/graphql")).await.unwrap();
    b.wait_until("document.querySelectorAll('.CodeMirror').length >= 2", "GraphiQL").await;
    let reused = b
        .eval(
            "const token = JSON.parse(sessionStorage.getItem('auditgraph.session')).accessToken; \
             const values = [...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror.getValue()); \
             return values.some(v => v.includes('Bearer ' + token)) && !values.some(v => v.includes('<token>'))",
        )
        .await;
    assert_eq!(reused, json!(true), "GraphiQL's headers carry the signed-in token");
    b.close().await;
}

/// Opens the details of the first row whose Activity is `activity`.
async fn open_details(b: &Browser, activity: &str) {
    let found = b
        .eval(&format!(
            "const row = [...document.querySelectorAll('#rows tr')].find(r => r.cells[3].innerText === '{activity}'); \
             if (!row) return false; row.querySelector('button').click(); return true"
        ))
        .await;
    assert_eq!(found, json!(true), "no row for {activity}");
    b.wait_until(
        &format!("!document.getElementById('details').hidden && document.getElementById('details').innerText.includes('{activity}')"),
        activity,
    )
    .await;
}

/// Real workload events (a create listing every property, an assignment with
/// two targets) render whole in the details, without sideways scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_events_render_in_the_details() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await.unwrap();
    let token = client_credentials(
        &reqwest::Client::new(),
        &app.address,
        ("00000000-0000-0000-0000-00000000a004", "intune-admin-secret"),
    )
    .await;
    let admin = reqwest::Client::new();
    let policies = app.url("/v1.0/deviceManagement/deviceCompliancePolicies");
    let body = json!({
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Win - Baseline", "passwordRequired": true,
        "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "block"}]}],
    });
    let created: Value =
        admin.post(&policies).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let targets: Vec<Value> = [
        "0b3a4b9e-1111-4e5e-9d4f-5a6b7c8d9e0f",
        "0b3a4b9e-2222-4e5e-9d4f-5a6b7c8d9e0f",
    ]
    .iter()
    .map(|g| json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g}}))
    .collect();
    let assign = json!({ "assignments": targets });
    let response =
        admin.post(format!("{policies}/{id}/assign")).bearer_auth(&token).json(&assign).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let (_, listed) =
        app.get_json(&format!("{EVENTS}?$filter=activityType eq 'Create DeviceCompliancePolicy'")).await;
    let properties = listed["value"][0]["resources"][0]["modifiedProperties"].as_array().unwrap().len();
    assert!(properties > 15, "a create lists every property");

    let b = Browser::launch().await;
    b.client.set_window_size(1366, 900).await.unwrap();
    b.client.goto(&app.url("/auditlogs")).await.unwrap();
    sign_in(&b, ADMIN).await;
    wait_for_count(&b, 3).await;
    let no_sideways = "const d = document.getElementById('details'); return d.scrollWidth <= d.clientWidth";
    open_details(&b, "Create DeviceCompliancePolicy").await;
    let rows = b.eval("return document.querySelectorAll('#details table.props tbody tr').length").await;
    assert_eq!(rows, json!(properties));
    b.screenshot("admin-page-workload-create").await;
    assert_eq!(b.eval(no_sideways).await, json!(true), "the details scroll sideways");
    click(&b, "#details-close").await;
    open_details(&b, "Create DeviceCompliancePolicyAssignment").await;
    assert_eq!(b.eval("return document.getElementById('d-targets').textContent").await, "Target(s) (2)");
    let notes = b.eval("return [...document.querySelectorAll('#details .target')].map(t => t.querySelectorAll('table.props tbody tr').length)").await;
    assert_eq!(notes[0], 0, "the policy itself lists nothing");
    assert!(notes[1].as_u64().unwrap() >= 7, "the assignment's properties: {notes}");
    b.screenshot("admin-page-workload-assignment").await;
    assert_eq!(b.eval(no_sideways).await, json!(true), "the details scroll sideways");
    b.close().await;
}
