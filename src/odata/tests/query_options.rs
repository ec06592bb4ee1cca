//! Query options: decoding, names and values, `$orderby`/`$select`, the real-client
//! fixture, the depth bound and field metadata.

use super::*;

fn options(query: &str) -> QueryOptions {
    QueryOptions::parse(query).unwrap_or_else(|e| panic!("{query}: {}", e.message))
}

fn options_error(query: &str) -> ODataError {
    QueryOptions::parse(query).expect_err(query)
}

#[test]
fn decoding_treats_encoded_and_raw_forms_alike() {
    let expected = filter("startswith(category,'J') and activityDateTime ge 2021-01-01T00:00:00Z");
    for query in [
        "$filter=startswith(category%2C+'J')+and+activityDateTime+ge+2021-01-01T00:00:00Z",
        "%24filter=startswith%28category%2C%20%27J%27%29%20and%20activityDateTime%20ge%202021-01-01T00%3A00%3A00Z",
        "?$filter=startswith(category,'J') and activityDateTime ge 2021-01-01T00:00:00Z",
        "$FILTER=startswith(category,'J')%20and%20activityDateTime%20ge%202021-01-01T00%3a00%3a00Z",
        "filter=startswith(category,'J')+and+activityDateTime+ge+2021-01-01T00:00:00Z",
    ] {
        assert_eq!(options(query).filter, Some(expected.clone()), "{query}");
    }
}

#[test]
fn a_raw_plus_in_an_offset_fails_as_graph_does_and_2b_succeeds() {
    let error = options_error("$filter=activityDateTime+ge+2021-01-01T00:00:00+02:00");
    assert_eq!(
        error.message,
        "Invalid filter clause: The DateTimeOffset text '2021-01-01T00:00:00' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
    );
    assert_eq!(error.status, 400);
    assert_eq!(
        options("$filter=activityDateTime+ge+2021-01-01T00:00:00%2B02:00").filter,
        Some(compare(at(), CompareOp::Ge, Literal::DateTime(ticks("2020-12-31T22:00:00Z"))))
    );
}

#[test]
fn option_names_values_and_passthrough() {
    let parsed = options(
        "api-version=2022&$top=5&%24skipToken=abc%2B%3D&$Count=True&$orderby=activityDateTime desc,id&$select=id,activityDateTime,id&$skip=10&$apply=x&$format=json",
    );
    assert_eq!(parsed.top, Some(5));
    assert_eq!(parsed.skip, Some(10));
    assert_eq!(parsed.skiptoken.as_deref(), Some("abc+="));
    assert!(parsed.count);
    assert_eq!(
        parsed.orderby,
        vec![
            OrderKey { field: EventField::ActivityDateTime, descending: true },
            OrderKey { field: EventField::Id, descending: false }
        ]
    );
    assert_eq!(parsed.select, Some(vec![SelectProperty::Id, SelectProperty::ActivityDateTime]));
    assert_eq!(parsed.filter, None);
    let passthrough: Vec<(&str, &str)> =
        parsed.passthrough.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        passthrough,
        [
            ("api-version", "2022"),
            ("$top", "5"),
            ("$count", "True"),
            ("$orderby", "activityDateTime desc,id"),
            ("$select", "id,activityDateTime,id"),
            ("$skip", "10"),
            ("$apply", "x"),
            ("$format", "json"),
        ]
    );
    let empty = options("");
    assert_eq!(empty, options("?&&"));
    assert_eq!((empty.filter, empty.top, empty.count, empty.select), (None, None, false, None));
    assert!(empty.orderby.is_empty());
    assert_eq!(options("$count=false&$top=0").top, Some(0));
    assert!(!options("count=FALSE").count);
    assert_eq!(options("$filter=&$select=&$orderby=&$expand=").filter, None);
}

#[test]
fn option_errors() {
    let message = |query: &str| options_error(query).message;
    assert_eq!(
        message("$top=5&%24top=6"),
        "Query option '$top' was specified more than once, but it must be specified at most once."
    );
    assert_eq!(
        message("$filter=true&filter=true"),
        "Query option '$filter' was specified more than once, but it must be specified at most once."
    );
    assert_eq!(
        message("$top=abc"),
        "Invalid value 'abc' for $top query option found. The $top query option requires a non-negative integer value."
    );
    assert_eq!(
        message("$top=-1"),
        "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value."
    );
    assert_eq!(
        message("$top=99999999999999999999"),
        "Invalid value '99999999999999999999' for $top query option found. The $top query option requires a non-negative integer value."
    );
    // Both are Edm.Int64: 2^63 is one too many.
    assert_eq!(QueryOptions::parse("$skip=9223372036854775807").unwrap().skip, Some(i64::MAX as u64));
    assert_eq!(
        message("$skip=9223372036854775808"),
        "Invalid value '9223372036854775808' for $skip query option found. The $skip query option requires a non-negative integer value."
    );
    assert_eq!(
        message("$skip=1.5"),
        "Invalid value '1.5' for $skip query option found. The $skip query option requires a non-negative integer value."
    );
    assert_eq!(
        message("$count=yes"),
        "Invalid value 'yes' for $count query option found. Valid values are 'true, false'."
    );
    assert_eq!(message("$search=device"), "The query parameter '$search' is not supported.");
    assert_eq!(
        message("$expand=foo"),
        "Could not find a property named 'foo' on type 'microsoft.graph.auditEvent'."
    );
    assert_eq!(
        message("$expand=actor"),
        "Property 'actor' on type 'microsoft.graph.auditEvent' is not a navigation property or complex property. Only navigation properties can be expanded."
    );
    assert_eq!(
        message("$select=id,foo"),
        "Could not find a property named 'foo' on type 'microsoft.graph.auditEvent'."
    );
    assert_eq!(
        message("$orderby=createdDateTime"),
        "Could not find a property named 'createdDateTime' on type 'microsoft.graph.auditEvent'."
    );
    assert_eq!(
        message("$filter=createdDateTime ge 2021-01-01"),
        "Invalid filter clause: Could not find a property named 'createdDateTime' on type 'microsoft.graph.auditEvent'."
    );
    let format = options_error("$format=xml");
    assert_eq!(format.status, 406);
    assert_eq!(
        format.message,
        "The requested format 'xml' is not supported. Supported formats: 'json', 'application/json'."
    );
    assert!(QueryOptions::parse("$format=application/json;odata.metadata=minimal").is_ok());
}

#[test]
fn orderby_rules() {
    let asc = |field| OrderKey { field, descending: false };
    assert_eq!(
        parse_orderby("ActivityDateTime DESC").unwrap(),
        vec![OrderKey { field: EventField::ActivityDateTime, descending: true }]
    );
    assert_eq!(
        parse_orderby(" category asc , correlationId ").unwrap(),
        vec![asc(EventField::Category), asc(EventField::CorrelationId)]
    );
    assert_eq!(parse_orderby("").unwrap(), vec![]);
    let message = |text: &str| parse_orderby(text).unwrap_err().message;
    assert_eq!(
        message("activityDateTime sideways"),
        "Syntax error at position 25 in 'activityDateTime sideways'."
    );
    assert_eq!(
        message("activityDateTime desc desc"),
        "Syntax error at position 26 in 'activityDateTime desc desc'."
    );
    assert_eq!(message("activityDateTime,"), "Syntax error at position 17 in 'activityDateTime,'.");
    assert_eq!(
        message("actor/userPrincipalName"),
        "The property 'actor/userPrincipalName' cannot be used in the $orderby query option."
    );
    assert_eq!(message("resources"), "The property 'resources' cannot be used in the $orderby query option.");
    assert_eq!(
        message("actor/nope"),
        "Could not find a property named 'nope' on type 'microsoft.graph.auditActor'."
    );
    assert_eq!(message("id,ID desc"), "Duplicate property named 'id' is not supported in '$orderby'.");
}

#[test]
fn select_rules() {
    assert_eq!(
        parse_select("resources, ACTOR ,id,actor").unwrap(),
        vec![SelectProperty::Resources, SelectProperty::Actor, SelectProperty::Id]
    );
    assert_eq!(parse_select("*").unwrap(), SelectProperty::ALL.to_vec());
    assert_eq!(parse_select("category,*").unwrap().len(), SelectProperty::ALL.len());
    assert_eq!(parse_select("category,*").unwrap()[0], SelectProperty::Category);
    let message = |text: &str| parse_select(text).unwrap_err().message;
    assert_eq!(
        message("actor/userPrincipalName"),
        "Selecting 'actor/userPrincipalName' is not supported; select 'actor' instead."
    );
    assert_eq!(message("id,"), "Syntax error at position 3 in 'id,'.");
    assert_eq!(message("id id"), "Syntax error at position 5 in 'id id'.");
    for property in SelectProperty::ALL {
        assert_eq!(parse_select(property.odata_name()).unwrap(), vec![*property]);
    }
}

/// `/work/shared/fixtures/real-client-queries.txt`, verbatim.
const REAL_CLIENT_QUERIES: &str = "\
$filter=componentName+eq+%27DeviceIntent%27+and+(activityDateTime+gt+2025-03-24T15%3a14%3a04.218565Z)+and+(activityDateTime+le+2025-03-25T15%3a14%3a04.218604Z)+and+activityOperationType+ne+%27Get%27&$orderby=activityDateTime+desc&$select=actor%2cactivityDateTime%2cactivityOperationType%2cactivityResult%2cresources
$filter=activityType%20eq%20%27RevokeLeafCertAsync%20CloudCertificationAuthorityLeafCertificate%27%20and%20%20activityDateTime%20gt%202024-01-09T00:00:00Z%20and%20activityDateTime%20le%202024-01-11T00:00:00Z&$orderby=activityDateTime%20desc
$filter=activityDateTime%20ge%202022-08-22&$top=100
$filter=category%20ne%20%27Application%27&$count=true
$filter=activityDateTime%20ge%202024-07-22T22:17:03Z%20and%20activityDateTime%20lt%202024-07-22T23:17:03Z&$top=100
$filter=category%20eq%20%27Application%27%20and%20activityDateTime%20gt%202024-01-01T00:00:00Z
$filter=resources/any(s:s/resourceId%20eq%20%27df07f17c-2d58-42d9-8491-31d1a6c2a0b5%27)
$filter=activityDateTime%20gt%202024-01-01T00:00:00Z&$orderby=activityDateTime%20desc&$top=50
";

fn query_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'))
}

#[test]
fn every_real_client_query_parses() {
    for line in query_lines(REAL_CLIENT_QUERIES) {
        let parsed = options(line);
        assert!(parsed.filter.is_some(), "{line}");
    }
    // The shared copy, when this checkout has it, must agree.
    if let Ok(shared) = std::fs::read_to_string("/work/shared/fixtures/real-client-queries.txt") {
        for line in query_lines(&shared) {
            options(line);
        }
    }

    let intune_cd = options(query_lines(REAL_CLIENT_QUERIES).next().unwrap());
    assert_eq!(
        intune_cd.filter.unwrap().to_string(),
        "componentName eq 'DeviceIntent' and activityDateTime gt 2025-03-24T15:14:04.2185650Z and activityDateTime le 2025-03-25T15:14:04.2186040Z and activityOperationType ne 'Get'"
    );
    assert_eq!(intune_cd.orderby, vec![OrderKey { field: EventField::ActivityDateTime, descending: true }]);
    assert_eq!(
        intune_cd.select,
        Some(vec![
            SelectProperty::Actor,
            SelectProperty::ActivityDateTime,
            SelectProperty::ActivityOperationType,
            SelectProperty::ActivityResult,
            SelectProperty::Resources
        ])
    );
    assert!(eval::matches(
        &options("$filter=resources/any(s:s/resourceId%20eq%20%27df07f17c-2d58-42d9-8491-31d1a6c2a0b5%27)")
            .filter
            .unwrap(),
        &event()
    ));
}

#[test]
fn the_deepest_accepted_filters_fit_a_small_stack() {
    // Parsing, binding, evaluation, Display and Drop all recurse over the tree; the
    // parser's depth bound keeps each well inside 1 MiB even unoptimised (worker
    // threads get 2 MiB).
    let run = || {
        let most = parser::MAX_DEPTH - 4;
        let chain = vec!["contains(category,'x')"; most].join(" or ");
        let nots = format!("{}category eq 'x'{}", "not(".repeat(most), ")".repeat(most));
        let bare_nots = format!("{}contains(category,'x')", "not ".repeat(most));
        let parens = format!("{}category eq 'x'{}", "(".repeat(most), ")".repeat(most));
        for text in [chain, nots, bare_nots, parens] {
            let f = filter(&text);
            assert_eq!(filter(&f.to_string()), f);
            eval::matches(&f, &event());
        }
    };
    std::thread::Builder::new().stack_size(1024 * 1024).spawn(run).unwrap().join().unwrap();
}

#[test]
fn field_metadata() {
    assert_eq!(at().field_type(), FieldType::DateTimeOffset);
    assert_eq!(Field::Event(EventField::CorrelationId).field_type(), FieldType::Guid);
    assert_eq!(Field::Permission.field_type(), FieldType::String);
    assert_eq!(Field::Actor(ActorField::ActorType).odata_name(), "auditActorType");
    assert_eq!(Field::Resource(ResourceField::ResourceType).odata_name(), "auditResourceType");
    assert_eq!(FieldType::Guid.edm_name(), "Edm.Guid");
    assert!(!Field::Event(EventField::Id).is_nullable());
    assert!(category().is_nullable());
}
