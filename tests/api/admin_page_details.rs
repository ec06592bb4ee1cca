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
use crate::helpers::days_ago;

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
