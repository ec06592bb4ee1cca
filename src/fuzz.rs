//! Fuzzing on the stable toolchain: proptest generators over every parser
//! a client's bytes reach: the OData query options and the skiptoken, JSON bodies,
//! GraphQL documents (admission), the import reader and bearer tokens. Each input
//! must be answered without a panic, within a time bound, and every rejection must
//! be an error value that maps to a Graph-shaped 4xx.
//!
//! `AUDITGRAPH_FUZZ_CASES` sets the cases per target (256 by default, for CI); a long
//! run is `AUDITGRAPH_FUZZ_CASES=1000000 cargo test --lib fuzz::`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::ResponseError;
use proptest::prelude::*;

use crate::error::ApiError;

/// The most any one input may take (a debug build on a busy 2-core machine).
const BOUND: Duration = Duration::from_secs(2);

fn config() -> ProptestConfig {
    let cases = std::env::var("AUDITGRAPH_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn timed<T>(what: &str, input: &dyn std::fmt::Debug, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < BOUND, "{what} took {took:?} on {input:?}");
    out
}

/// A rejection as the HTTP doors answer it: a 4xx with a Graph error code and message.
fn assert_graph_4xx(error: ApiError) {
    let status = error.status_code();
    assert!(status.is_client_error(), "{error:?} maps to {status}");
    assert!(!error.code().is_empty() && !error.message().is_empty(), "{error:?}");
}

/// Pieces of the query-option grammar, so that generated strings get deep into it.
fn query_token() -> impl Strategy<Value = String> {
    let words = vec![
        "$filter=",
        "$orderby=",
        "$select=",
        "$top=",
        "$skip=",
        "$skiptoken=",
        "$count=",
        "$format=",
        "$search=",
        "&",
        "=",
        " ",
        "%20",
        "%27",
        "%",
        "%2",
        "'",
        "''",
        "(",
        ")",
        ",",
        "/",
        ":",
        "eq",
        "ne",
        "gt",
        "ge",
        "lt",
        "le",
        "and",
        "or",
        "not",
        "in",
        "has",
        "any",
        "all",
        "null",
        "true",
        "false",
        "category",
        "activityDateTime",
        "activityType",
        "componentName",
        "correlationId",
        "id",
        "displayName",
        "actor",
        "resources",
        "modifiedProperties",
        "r",
        "p",
        "r:r/resourceId",
        "asc",
        "desc",
        "startswith",
        "endswith",
        "contains",
        "tolower",
        "toupper",
        "2024-07-22T22:17:09Z",
        "52effe71-fe71-52ef-71fe-ef5271feef52",
        "0",
        "1",
        "-1",
        "99999999999999999999",
        "1.5e308",
        "'Role'",
        "\u{0}",
        "é",
        "*",
    ];
    prop_oneof![4 => prop::sample::select(words).prop_map(String::from), 1 => "\\PC{0,4}"]
}

fn grammar_query() -> impl Strategy<Value = String> {
    prop::collection::vec(query_token(), 0..40).prop_map(|parts| parts.concat())
}

/// Nested `(`…`)`, `not` and lambdas, deeper than any client writes.
fn deep_filter() -> impl Strategy<Value = String> {
    (
        0usize..3000,
        prop::sample::select(vec!["(", "not ", "not(", "resources/any(r:r/modifiedProperties/any(p:"]),
    )
        .prop_map(|(n, open)| format!("$filter={}category eq 'a'", open.repeat(n)))
}

fn check_query(raw: &str) {
    let parsed = timed("QueryOptions::parse", &raw, || crate::odata::QueryOptions::parse(raw));
    if let Err(e) = parsed {
        assert!(e.status == 400 || e.status == 406, "{raw:?}: {e:?}");
        assert_graph_4xx(ApiError::OData(e));
    }
}

fn check_json_body(bytes: &[u8]) {
    let parsed = timed("parse_json_body", &bytes, || crate::domain::graph::parse_json_body(bytes));
    let Ok(value) = parsed else { return };
    let event = timed("parse_event", &value, || {
        crate::domain::graph::parse_event(&value, || "id".into(), chrono::Utc::now)
    });
    if let Err(e) = event {
        assert_graph_4xx(ApiError::BadRequest(e.0));
    }
    let created = timed("parse_new_event", &value, || {
        crate::domain::graph::parse_new_event(&value, || "id".into(), chrono::Utc::now, uuid::Uuid::nil)
    });
    if let Err(e) = created {
        assert_graph_4xx(ApiError::BadRequest(e.0));
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "a",
            "2024-07-22T22:17:09.7552025Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.9999999Z",
            "52effe71-fe71-52ef-71fe-ef5271feef52",
            "Role",
            "\u{0}",
            "ItPro",
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        // The event's own properties, then nested ones and strangers.
        let mut keys = crate::domain::graph::EVENT_PROPERTIES.to_vec();
        keys.extend([
            "modifiedProperties",
            "oldValue",
            "newValue",
            "resourceId",
            "type",
            "userPermissions",
            "@odata.type",
            "x",
        ]);
        let key = prop::sample::select(keys).prop_map(String::from);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Values shaped like workload bodies: the catalogue's property names and
/// type names, at any depth, with any values.
fn workload_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let mut names: Vec<String> = Vec::new();
    let mut types: Vec<String> = vec!["#microsoft.graph.omaSetting".into(), "groupAssignmentTarget".into()];
    fn walk(props: &[crate::workloads::schema::Prop], names: &mut Vec<String>) {
        use crate::workloads::schema::Kind;
        for p in props {
            names.push(p.name.to_string());
            match p.kind {
                Kind::Complex(inner) | Kind::ComplexList(inner) => walk(inner, names),
                Kind::TypedList(types) => types.iter().for_each(|t| walk(t.props, names)),
                _ => {}
            }
        }
    }
    for set in crate::workloads::catalogue::SETS {
        walk(set.base_props, &mut names);
        types.push(format!("#microsoft.graph.{}", set.base_type));
        for t in set.types {
            walk(t.props, &mut names);
            types.push(format!("#microsoft.graph.{}", t.name));
        }
    }
    names.extend(["@odata.type", "target", "groupId", "roleDefinition@odata.bind", "x"].map(String::from));
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(types).prop_map(Value::String),
        prop::sample::select(vec!["block", "x64", "system", "2024-07-22T22:17:09Z", "AAAA", "\u{0}", ""])
            .prop_map(|s| json!(s)),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        let key = prop::sample::select(names.clone());
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A workload body is accepted (and then audits without a panic) or refused
/// with a Graph-shaped 4xx, for every set, on both versions.
fn check_workload_body(value: &serde_json::Value) {
    use crate::workloads::body::{self, Purpose};
    use crate::workloads::catalogue::SETS;
    let refuse = |e: crate::workloads::WorkloadError| assert_graph_4xx(ApiError::from(e));
    let Some(map) = value.as_object() else { return };
    for set in SETS {
        for beta in [false, true] {
            let checked = timed("workload body", value, || {
                let ty = body::create_type(set, map, beta)?;
                let props: Vec<_> = set.props_of(ty, beta).collect();
                body::entity(&props, ty.name, map, Purpose::Create).map(|given| (ty, given))
            });
            match checked {
                Err(e) => refuse(e),
                Ok((ty, given)) => {
                    let object = crate::domain::object::IntuneObject {
                        set: set.segment.into(),
                        id: "x".into(),
                        odata_type: ty.name.into(),
                        version: 1,
                        body: given,
                    };
                    timed("audit encoding", value, || {
                        crate::workloads::changes::create_properties(set, &object)
                    });
                }
            }
        }
    }
}

fn check_graphql(query: &str) {
    let doc = timed("parse_query", &query, || async_graphql::parser::parse_query(query));
    let Ok(doc) = doc else { return };
    let counted = timed("expanded_selections", &query, || crate::graphql::limits::expanded_selections(&doc));
    if let Err(e) = counted {
        assert!(!e.message.is_empty());
    }
    timed("string_with_nul", &query, || {
        crate::graphql::limits::string_with_nul(&doc, &async_graphql::Variables::default())
    });
}

fn graphql_document() -> impl Strategy<Value = String> {
    let tokens = vec![
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ":",
        "...",
        "$",
        "@",
        "!",
        "=",
        ",",
        "\"",
        "\"\"\"",
        "query",
        "mutation",
        "subscription",
        "fragment",
        "on",
        "F",
        "G",
        "Query",
        "auditEvents",
        "auditEvent",
        "first",
        "after",
        "filter",
        "orderBy",
        "nodes",
        "edges",
        "node",
        "id",
        "category",
        "resources",
        "pageInfo",
        "__typename",
        "__schema",
        "types",
        "name",
        "1",
        "\"a\"",
        "\"\\u0000\"",
        "null",
        "true",
        "$v",
        "Int",
        "String",
        "@skip(if:true)",
        " ",
        "\n",
        "#",
    ];
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(tokens).prop_map(String::from), 0..60)
            .prop_map(|p| p.join(" ")),
        1 => "\\PC{0,40}",
        // Fragment fan-out: each fragment spreads the previous one several times.
        1 => (1usize..40, 1usize..6).prop_map(|(depth, fan)| {
            let mut doc = String::from("query { ...F0 }\nfragment F0 on Query { __typename }\n");
            for i in 1..depth {
                let spreads = format!("...F{} ", i - 1).repeat(fan);
                doc.push_str(&format!("fragment F{i} on Query {{ {spreads} }}\n"));
            }
            doc.replace("...F0 }\n", &format!("...F{} }}\n", depth - 1))
        }),
    ]
}

fn check_import(bytes: Vec<u8>, format: crate::import::ImportFormat) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let options = crate::import::Options { format, strict: false, batch_size: 7 };
    let input = bytes.clone();
    let outcome = timed("import::pass", &format, || {
        runtime.block_on(crate::import::pass(
            Box::new(std::io::Cursor::new(input)),
            &options,
            None,
            |_| {},
            Arc::new(|_: &str| {}),
        ))
    });
    let outcome =
        outcome.unwrap_or_else(|e| panic!("{format:?} on {:?}: {e:#}", String::from_utf8_lossy(&bytes)));
    let _ = outcome.report();
}

fn import_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::sample::select(vec![
            "\n", "\r\n", "[", "]", ",", "{", "}", "{\"value\":[", "{\"records\":[", "\"@odata.context\":\"x\",",
            "{\"properties\":", "\u{feff}", "\"", "\\", " ",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

fn verifier() -> crate::auth::TokenVerifier {
    use jsonwebtoken::DecodingKey;
    let key = crate::auth::TrustedKey::auditgraph("k1", DecodingKey::from_secret(b"not a real key"));
    crate::auth::TokenVerifier::new(Arc::new(crate::directory::Directory::development()), vec![key])
}

fn check_token(verifier: &crate::auth::TokenVerifier, header: &str) {
    let _ = timed("bearer_token", &header, || crate::auth::bearer_token(header));
    let verified = timed("verify", &header, || verifier.verify(Some(header)));
    match verified {
        Ok(principal) => panic!("{header:?} was accepted as {principal:?}"),
        Err(e) => assert_graph_4xx(ApiError::from(e)),
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_header() -> impl Strategy<Value = String> {
    let header_json = prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        prop::sample::select(vec![
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"ES256"}"#,
            r#"{"alg":"RS256","kid":"\u0000"}"#,
        ])
        .prop_map(String::from),
    ];
    let jwt = (header_json, json_value(), prop::collection::vec(any::<u8>(), 0..300))
        .prop_map(|(h, c, s)| format!("{}.{}.{}", b64(h.as_bytes()), b64(c.to_string().as_bytes()), b64(&s)));
    let scheme =
        prop::sample::select(vec!["Bearer ", "bearer\t", "BEARER  ", "Basic ", "", "Bearer", " Bearer "]);
    prop_oneof![
        (scheme.clone(), jwt).prop_map(|(s, t)| format!("{s}{t}")),
        (scheme, "\\PC{0,64}").prop_map(|(s, t)| format!("{s}{t}")),
        "\\PC{0,80}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn query_options_take_any_text(raw in "\\PC{0,200}") {
        check_query(&raw);
    }

    #[test]
    fn query_options_take_grammar_shaped_text(raw in grammar_query()) {
        check_query(&raw);
    }

    #[test]
    fn query_options_take_deep_nesting(raw in deep_filter()) {
        check_query(&raw);
    }

    #[test]
    fn skiptokens_are_refused_cleanly(token in "[A-Za-z0-9_.\\-]{0,200}", flip in any::<(usize, u8)>()) {
        let key = crate::paging::PagingKey::from_bytes([7; 32]);
        prop_assert!(timed("decode", &token, || key.decode::<crate::store::Cursor>(&token, "h")).is_err());
        // A real token with one byte changed.
        let cursor = crate::store::Cursor { keys: vec![], id: "e-1".into() };
        let mut good = key.encode("h", &cursor).into_bytes();
        let at = flip.0 % good.len();
        good[at] ^= flip.1.max(1);
        if let Ok(altered) = String::from_utf8(good) {
            prop_assert!(timed("decode", &altered, || key.decode::<crate::store::Cursor>(&altered, "h")).is_err());
        }
    }

    #[test]
    fn json_bodies_take_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_json_body(&bytes);
    }

    #[test]
    fn json_bodies_take_event_shaped_values(value in json_value()) {
        check_json_body(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn workload_bodies_are_checked_or_refused(value in workload_value()) {
        check_workload_body(&value);
    }

    #[test]
    fn workload_list_options_are_bound_or_refused(raw in grammar_query()) {
        for set in crate::workloads::catalogue::SETS {
            let profile = crate::workloads::profile(set);
            if let Err(e) = timed("ObjectQuery::parse", &raw, || crate::odata::objects::ObjectQuery::parse(&raw, &profile)) {
                assert_graph_4xx(ApiError::OData(e));
            }
        }
    }

    #[test]
    fn json_bodies_take_deep_nesting(depth in 0usize..5000, open in prop::sample::select(vec!["[", "{\"a\":"])) {
        check_json_body(open.repeat(depth).as_bytes());
    }

    #[test]
    fn graphql_documents_are_admitted_or_refused(query in graphql_document()) {
        check_graphql(&query);
    }

    #[test]
    fn the_import_reader_takes_any_bytes(
        bytes in import_bytes(),
        format in prop::sample::select(vec![
            crate::import::ImportFormat::Auto, crate::import::ImportFormat::Graph,
            crate::import::ImportFormat::JsonArray, crate::import::ImportFormat::Ndjson,
            crate::import::ImportFormat::ResourceLog,
        ]),
    ) {
        check_import(bytes, format);
    }

    #[test]
    fn tokens_are_refused_cleanly(header in token_header()) {
        check_token(&verifier(), &header);
    }
}
