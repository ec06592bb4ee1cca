//! The OData query surface end to end: `$filter` agrees with the in-memory
//! evaluator on every backend (a differential test over random events and random
//! filters), paging, `$orderby`, `$select`, `$count`, and retention.

use auditgraph::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, format_graph_datetime};
use auditgraph::odata::{self, eval};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, days_ago, sample_event};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

const WORDS: &[&str] = &[
    "Device",
    "device",
    "DEVICE",
    "Role",
    "Application",
    "Compliance",
    "O'Neil",
    "50%_off!",
    "Élan",
    "élan",
    "",
    "Create MobileApp",
    "Delete MobileApp",
    "wipe ManagedDevice",
    "a",
    "ab",
    "b",
];

fn maybe(rng: &mut ChaCha8Rng, p_null: f64) -> Option<String> {
    if rng.random_bool(p_null) { None } else { Some(WORDS[rng.random_range(0..WORDS.len())].to_string()) }
}

fn random_event(rng: &mut ChaCha8Rng, i: usize) -> AuditEvent {
    let now = chrono::Utc::now();
    // Few distinct times, so ties exercise the id tiebreak.
    let at = now
        - chrono::Duration::minutes(rng.random_range(0..40) * 600)
        - chrono::Duration::nanoseconds(rng.random_range(0..3) * 100);
    let resources = (0..rng.random_range(0..4))
        .map(|_| AuditResource {
            display_name: maybe(rng, 0.2),
            resource_type: maybe(rng, 0.2),
            resource_id: maybe(rng, 0.2),
            modified_properties: (0..rng.random_range(0..3))
                .map(|_| AuditProperty {
                    display_name: maybe(rng, 0.2),
                    old_value: maybe(rng, 0.4),
                    new_value: maybe(rng, 0.2),
                })
                .collect(),
        })
        .collect();
    let actor = rng.random_bool(0.85).then(|| AuditActor {
        actor_type: maybe(rng, 0.1),
        user_permissions: (0..rng.random_range(0..3))
            .map(|_| ["*", "Audit/Read", "Device/Wipe"][rng.random_range(0..3)].to_string())
            .collect(),
        application_id: maybe(rng, 0.3),
        application_display_name: maybe(rng, 0.3),
        user_principal_name: maybe(rng, 0.3),
        ip_address: maybe(rng, 0.5),
        user_id: maybe(rng, 0.3),
        ..Default::default()
    });
    AuditEvent {
        // Mixed-case ids: the tiebreak compares them byte-wise.
        id: format!("{}-{i:04}", ["ev", "Ev", "EV"][i % 3]),
        display_name: maybe(rng, 0.2),
        component_name: maybe(rng, 0.2),
        actor,
        activity: maybe(rng, 0.6),
        activity_date_time: auditgraph::domain::truncate_to_ticks(at),
        activity_type: maybe(rng, 0.2),
        activity_operation_type: maybe(rng, 0.2),
        activity_result: maybe(rng, 0.2),
        correlation_id: uuid::Uuid::from_u128(rng.random_range(0..5)),
        category: maybe(rng, 0.2),
        resources,
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn random_atom(rng: &mut ChaCha8Rng, events: &[AuditEvent]) -> String {
    const EVENT_FIELDS: &[&str] = &[
        "displayName",
        "componentName",
        "activity",
        "activityType",
        "activityOperationType",
        "activityResult",
        "category",
        "id",
    ];
    const ACTOR_FIELDS: &[&str] = &[
        "auditActorType",
        "applicationId",
        "applicationDisplayName",
        "userPrincipalName",
        "ipAddress",
        "userId",
    ];
    const OPS: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le"];
    let word = |rng: &mut ChaCha8Rng| quote(WORDS[rng.random_range(0..WORDS.len())]);
    let op = |rng: &mut ChaCha8Rng| OPS[rng.random_range(0..OPS.len())];
    match rng.random_range(0..14) {
        0 | 1 => {
            format!("{} {} {}", EVENT_FIELDS[rng.random_range(0..EVENT_FIELDS.len())], op(rng), word(rng))
        }
        2 => {
            format!("{} {} null", EVENT_FIELDS[rng.random_range(0..7)], ["eq", "ne"][rng.random_range(0..2)])
        }
        3 => {
            let e = &events[rng.random_range(0..events.len())];
            format!("activityDateTime {} {}", op(rng), format_graph_datetime(e.activity_date_time))
        }
        4 => format!("correlationId {} {}", op(rng), uuid::Uuid::from_u128(rng.random_range(0..5))),
        5 => format!(
            "{}({},{})",
            ["contains", "startswith", "endswith"][rng.random_range(0..3)],
            EVENT_FIELDS[rng.random_range(0..EVENT_FIELDS.len())],
            word(rng)
        ),
        6 => format!("category in ({}, {}, null)", word(rng), word(rng)),
        7 => format!(
            "actor/{} {} {}",
            ACTOR_FIELDS[rng.random_range(0..ACTOR_FIELDS.len())],
            op(rng),
            word(rng)
        ),
        8 => format!(
            "actor/{} {} null",
            ACTOR_FIELDS[rng.random_range(0..ACTOR_FIELDS.len())],
            ["eq", "ne"][rng.random_range(0..2)]
        ),
        9 => {
            format!("contains(actor/{},{})", ACTOR_FIELDS[rng.random_range(0..ACTOR_FIELDS.len())], word(rng))
        }
        10 => format!(
            "resources/{}(r:r/{} {} {})",
            ["any", "all"][rng.random_range(0..2)],
            ["displayName", "auditResourceType", "resourceId", "type"][rng.random_range(0..4)],
            op(rng),
            word(rng)
        ),
        11 => format!(
            "resources/any(r:r/modifiedProperties/{}(p:{}(p/{},{})))",
            ["any", "all"][rng.random_range(0..2)],
            ["contains", "startswith"][rng.random_range(0..2)],
            ["displayName", "oldValue", "newValue"][rng.random_range(0..3)],
            word(rng)
        ),
        12 => format!(
            "actor/userPermissions/any(u:u eq {})",
            quote(["*", "audit/read", "x"][rng.random_range(0..3)])
        ),
        _ => ["resources/any()", "true", "not(resources/any())"][rng.random_range(0..3)].to_string(),
    }
}

fn random_filter(rng: &mut ChaCha8Rng, events: &[AuditEvent], depth: u32) -> String {
    if depth == 0 || rng.random_bool(0.4) {
        return random_atom(rng, events);
    }
    let a = random_filter(rng, events, depth - 1);
    let b = random_filter(rng, events, depth - 1);
    match rng.random_range(0..3) {
        0 => format!("({a}) and ({b})"),
        1 => format!("({a}) or ({b})"),
        _ => format!("not ({a})"),
    }
}

fn random_orderby(rng: &mut ChaCha8Rng) -> String {
    const KEYS: &[&str] =
        &["activityDateTime", "category", "displayName", "id", "correlationId", "activityResult"];
    let n = rng.random_range(0..3);
    KEYS.choose_multiple(rng, n)
        .map(|key| format!("{key} {}", ["asc", "desc"][rng.random_range(0..2)]))
        .collect::<Vec<_>>()
        .join(",")
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn filters_agree_with_the_in_memory_evaluator(app: TestApp) {
    let mut rng = ChaCha8Rng::seed_from_u64(20261125);
    let events: Vec<AuditEvent> = (0..240).map(|i| random_event(&mut rng, i)).collect();
    app.insert(events.clone()).await;
    for round in 0..120 {
        let filter_text = random_filter(&mut rng, &events, 3);
        let orderby_text = random_orderby(&mut rng);
        let filter = odata::parse_filter(&filter_text).unwrap_or_else(|e| panic!("{filter_text}: {e}"));
        let order = if orderby_text.is_empty() {
            auditgraph::store::default_order()
        } else {
            odata::parse_orderby(&orderby_text).unwrap()
        };
        let mut expected: Vec<&AuditEvent> = events.iter().filter(|e| eval::matches(&filter, e)).collect();
        expected.sort_by(|a, b| eval::compare(&order, a, b));
        let expected: Vec<&str> = expected.iter().map(|e| e.id.as_str()).collect();

        let top = [7, 50, 1000][round % 3];
        let mut query = format!("{EVENTS}?$filter={}&$top={top}&$count=true", encode(&filter_text));
        if !orderby_text.is_empty() {
            query.push_str(&format!("&$orderby={}", encode(&orderby_text)));
        }
        let pages = app.all_pages(&query).await;
        let got: Vec<String> = pages
            .iter()
            .flat_map(|p| {
                p["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(got, expected, "{:?}: $filter={filter_text} $orderby={orderby_text}", app.backend);
        assert_eq!(pages[0]["@odata.count"], json!(expected.len()), "$filter={filter_text}");
    }
}

async fn real_client_queries_all_run(app: TestApp) {
    app.post_json(EVENTS, &sample_event("q1", &days_ago(1))).await;
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/real-client-queries.txt"
    ))
    .unwrap();
    for line in fixture.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (status, body) = app.get_json(&format!("{EVENTS}?{line}")).await;
        assert_eq!(status, 200, "{line}: {body}");
    }
}

async fn paging_follows_graph_rules(app: TestApp) {
    let now = chrono::Utc::now();
    let events: Vec<AuditEvent> = (0..5)
        .map(|i| {
            let mut e = auditgraph::domain::graph::parse_event(
                &sample_event(&format!("p{i}"), &days_ago(1)),
                String::new,
                chrono::Utc::now,
            )
            .unwrap();
            e.activity_date_time = auditgraph::domain::truncate_to_ticks(now - chrono::Duration::hours(i));
            e
        })
        .collect();
    app.insert(events).await;
    let first =
        format!("{EVENTS}?$filter=category eq 'Application'&$top=2&$count=true&$select=id,activityDateTime");
    let pages = app.all_pages(&first).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p["value"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| p["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, ["p0", "p1", "p2", "p3", "p4"], "newest first by default");
    assert_eq!(pages[0]["@odata.count"], 5);
    assert_eq!(
        pages[0]["@odata.context"],
        format!("{}/v1.0/$metadata#deviceManagement/auditEvents(id,activityDateTime)", app.address)
    );
    assert_eq!(pages[0]["value"][0].as_object().unwrap().len(), 2, "only the selected properties");
    let link = pages[0]["@odata.nextLink"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/v1.0/deviceManagement/auditEvents?", app.address)), "{link}");
    for option in [
        "$filter=category%20eq%20%27Application%27",
        "$top=2",
        "$count=true",
        "$select=id%2CactivityDateTime",
        "$skiptoken=",
    ] {
        assert!(link.contains(option), "{link} lacks {option}");
    }
    assert!(pages[2].get("@odata.nextLink").is_none());

    // Exactly a multiple of the page size: no trailing empty page.
    let pages = app.all_pages(&format!("{EVENTS}?$top=5")).await;
    assert_eq!(pages.len(), 1);

    // $skip applies before paging; asc order and $top larger than the max clamp.
    let (_, body) = app.get_json(&format!("{EVENTS}?$orderby=activityDateTime asc&$skip=1&$top=2")).await;
    let ids: Vec<&str> =
        body["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["p3", "p2"]);

    // A token replayed with another query, or altered, is refused.
    let token = link.split("$skiptoken=").nth(1).unwrap();
    let (status, body) = app.get_json(&format!("{EVENTS}?$top=2&$skiptoken={token}")).await;
    assert_eq!(status, 400, "{body}");
    let mut altered = token.to_string();
    altered.insert(3, 'x');
    let (status, _) = app
        .get_json(&format!("{EVENTS}?$filter=category eq 'Application'&$top=2&$skiptoken={altered}"))
        .await;
    assert_eq!(status, 400);
    // The JS client's $skipToken spelling and %24 names work.
    let (status, body) = app
        .get_json(&format!(
            "{EVENTS}?%24filter=category%20eq%20%27Application%27&%24top=2&$skipToken={token}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["value"][0]["id"], "p2");
}

async fn paging_has_no_gaps_or_duplicates_under_concurrent_inserts(app: TestApp) {
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    let make = |id: String, minutes: i64| {
        let mut e = auditgraph::domain::graph::parse_event(
            &sample_event(&id, &days_ago(1)),
            String::new,
            chrono::Utc::now,
        )
        .unwrap();
        e.activity_date_time =
            auditgraph::domain::truncate_to_ticks(base + chrono::Duration::minutes(minutes));
        e
    };
    app.insert((0..60).map(|i| make(format!("old-{i:03}"), i * 10)).collect()).await;
    let mut seen = Vec::new();
    let mut next = Some(app.url(&format!("{EVENTS}?$top=7")));
    let mut round = 0;
    while let Some(url) = next {
        let (_, body) = {
            let r = app.client.get(&url).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        };
        seen.extend(body["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()));
        next = body.get("@odata.nextLink").map(|l| l.as_str().unwrap().to_string());
        // New events land everywhere in the timeline between page requests.
        app.insert((0..5).map(|j| make(format!("new-{round:02}-{j}"), j * 137 - 20)).collect()).await;
        round += 1;
    }
    let old: Vec<&String> = seen.iter().filter(|id| id.starts_with("old-")).collect();
    let mut unique = old.clone();
    unique.dedup();
    assert_eq!(unique.len(), old.len(), "duplicates");
    assert_eq!(old.len(), 60, "every pre-existing event exactly once");
    let expected: Vec<String> = (0..60).rev().map(|i| format!("old-{i:03}")).collect();
    assert_eq!(old.into_iter().cloned().collect::<Vec<_>>(), expected);
}

async fn retention_hides_and_purges_old_events(app: TestApp) {
    app.post_json(EVENTS, &sample_event("recent", &days_ago(10))).await;
    let rows_of_one = app.child_rows().await;
    let (status, _) = app.post_json(EVENTS, &sample_event("ancient", &days_ago(400))).await;
    assert_eq!(status, 201);
    let (_, body) = app.get_json(EVENTS).await;
    let ids: Vec<&str> =
        body["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["recent"]);
    let (status, _) = app.get_json(&format!("{EVENTS}/ancient")).await;
    assert_eq!(status, 404);
    assert_eq!(app.count().await, 1);
    let purged = app.state.store.purge_before(app.state.retention_start()).await.unwrap();
    assert_eq!(purged, 1);
    assert_eq!(app.child_rows().await, rows_of_one, "the purged event's children went with it");
}

async fn instances_share_one_database(app: TestApp) {
    // Same database, another process's worth of state: its own data directory,
    // the same paging key.
    let key = std::fs::read_to_string(app.data_dir().join("paging.key")).unwrap();
    let other = app.another_instance(&["--paging-key", key.trim()]).await;
    let events: Vec<AuditEvent> = (0..25)
        .map(|i| {
            auditgraph::domain::graph::parse_event(
                &sample_event(&format!("s{i:02}"), &days_ago(1)),
                String::new,
                chrono::Utc::now,
            )
            .unwrap()
        })
        .collect();
    app.insert(events).await;

    // A nextLink from one instance works on the other.
    let (_, first) = app.get_json(&format!("{EVENTS}?$top=10&$orderby=id")).await;
    let link = first["@odata.nextLink"].as_str().unwrap().replacen(&app.address, &other.address, 1);
    let mut ids: Vec<String> =
        first["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect();
    for page in other.all_pages(link.strip_prefix(&other.address).unwrap()).await {
        ids.extend(page["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()));
    }
    let expected: Vec<String> = (0..25).map(|i| format!("s{i:02}")).collect();
    assert_eq!(ids, expected);

    // A write on one is read on the other.
    let (status, _) = other.post_json(EVENTS, &sample_event("from-other", &days_ago(1))).await;
    assert_eq!(status, 201);
    let (status, body) = app.get_json(&format!("{EVENTS}/from-other")).await;
    assert_eq!(status, 200, "{body}");
}

backend_tests!(
    instances_share_one_database,
    filters_agree_with_the_in_memory_evaluator,
    real_client_queries_all_run,
    paging_follows_graph_rules,
    paging_has_no_gaps_or_duplicates_under_concurrent_inserts,
    retention_hides_and_purges_old_events,
);
