//! End-to-end tests of the public API: `$filter` parsing and checking, evaluation,
//! ordering, query-string decoding, the real-client fixture, and property tests.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::*;
use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, Ticks};

const GUID: &str = "52effe71-fe71-52ef-71fe-ef5271feef52";

fn filter(text: &str) -> Filter {
    parse_filter(text).unwrap_or_else(|e| panic!("{text}: {}", e.message))
}

fn filter_error(text: &str) -> String {
    match parse_filter(text) {
        Ok(f) => panic!("{text} parsed as {f:?}"),
        Err(e) => {
            assert_eq!(e.status, 400);
            e.message
        }
    }
}

fn ticks(rfc3339: &str) -> Ticks {
    Ticks::from_datetime(DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc))
}

fn category() -> Field {
    Field::Event(EventField::Category)
}

fn at() -> Field {
    Field::Event(EventField::ActivityDateTime)
}

fn s(value: &str) -> Literal {
    Literal::String(value.to_owned())
}

fn compare(field: Field, op: CompareOp, value: Literal) -> Filter {
    Filter::Compare { field, op, value }
}

fn and(l: Filter, r: Filter) -> Filter {
    Filter::And(Box::new(l), Box::new(r))
}

fn or(l: Filter, r: Filter) -> Filter {
    Filter::Or(Box::new(l), Box::new(r))
}

fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

fn event() -> AuditEvent {
    AuditEvent {
        id: "e-1".into(),
        display_name: Some("Patch DeviceEnrollmentLimitConfiguration".into()),
        component_name: Some("DeviceIntent".into()),
        actor: Some(AuditActor {
            actor_type: Some("ItPro".into()),
            user_permissions: vec!["*".into()],
            user_principal_name: Some("Admin@Contoso.com".into()),
            ..AuditActor::default()
        }),
        activity: None,
        activity_date_time: ticks("2024-07-22T22:17:09.7552025Z").to_datetime(),
        activity_type: Some("Patch DeviceEnrollmentLimitConfiguration".into()),
        activity_operation_type: Some("Patch".into()),
        activity_result: Some("Success".into()),
        correlation_id: Uuid::parse_str(GUID).unwrap(),
        category: None,
        resources: vec![AuditResource {
            display_name: Some("All users and all devices".into()),
            resource_type: Some("DeviceEnrollmentLimitConfiguration".into()),
            resource_id: Some("df07f17c-2d58-42d9-8491-31d1a6c2a0b5".into()),
            modified_properties: vec![AuditProperty {
                display_name: Some("Limit".into()),
                old_value: Some("5".into()),
                new_value: None,
            }],
        }],
    }
}

fn hits(text: &str, event: &AuditEvent) -> bool {
    eval::matches(&filter(text), event)
}

// ---------------------------------------------------------------------------------
// Operators, literals and normalisation

#[test]
fn every_comparison_operator_and_its_flipped_form() {
    for op in CompareOp::ALL {
        let written = format!("componentName {} 'x'", op.keyword());
        assert_eq!(filter(&written), compare(Field::Event(EventField::ComponentName), op, s("x")));
        let flipped = format!("'x' {} componentName", op.keyword());
        assert_eq!(filter(&flipped), compare(Field::Event(EventField::ComponentName), op.flipped(), s("x")));
    }
    assert_eq!(CompareOp::Lt.flipped(), CompareOp::Gt);
    assert_eq!(CompareOp::Ge.flipped(), CompareOp::Le);
}

#[test]
fn logical_operators_and_grouping() {
    let (a, b, c) = (
        compare(category(), CompareOp::Eq, s("a")),
        compare(category(), CompareOp::Eq, s("b")),
        compare(category(), CompareOp::Eq, s("c")),
    );
    assert_eq!(
        filter("category eq 'a' or category eq 'b' and category eq 'c'"),
        or(a.clone(), and(b.clone(), c.clone()))
    );
    assert_eq!(
        filter("(category eq 'a' or category eq 'b') and category eq 'c'"),
        and(or(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(filter("not(category eq 'a')"), not(a.clone()));
    assert_eq!(filter("NOT (category eq 'a')"), not(a.clone()));
    assert_eq!(filter("not not(category eq 'a')"), not(not(a.clone())));
    assert_eq!(filter("true"), Filter::Constant(true));
    assert_eq!(filter("False or category eq 'a'"), or(Filter::Constant(false), a));
}

#[test]
fn in_binds_tighter_than_and_and_not() {
    let in_list = Filter::In { field: category(), values: vec![s("Device"), s("Application")] };
    assert_eq!(filter("category in ('Device','Application')"), in_list);
    assert_eq!(
        filter("category in ( 'Device' , 'Application' ) and activityResult eq 'Success'"),
        and(in_list.clone(), compare(Field::Event(EventField::ActivityResult), CompareOp::Eq, s("Success")))
    );
    assert_eq!(filter("not category in ('Device','Application')"), not(in_list));
    assert_eq!(filter("category in ()"), Filter::In { field: category(), values: vec![] });
    assert_eq!(
        filter("category in ('a', null)"),
        Filter::In { field: category(), values: vec![s("a"), Literal::Null] }
    );
}

#[test]
fn not_binds_tighter_than_eq() {
    assert_eq!(
        filter_error("not category eq 'X'"),
        "Invalid filter clause: A unary operator with an incompatible type was detected. Found operand type 'Edm.String' for operator kind 'Not'."
    );
}

#[test]
fn string_literals_unescape_doubled_quotes() {
    assert_eq!(
        filter("displayName eq 'O''Neil''s'"),
        compare(Field::Event(EventField::DisplayName), CompareOp::Eq, s("O'Neil's"))
    );
    assert_eq!(
        filter("displayName eq ''"),
        compare(Field::Event(EventField::DisplayName), CompareOp::Eq, s(""))
    );
    assert_eq!(
        filter("displayName eq 'a and b eq ''c'''"),
        compare(Field::Event(EventField::DisplayName), CompareOp::Eq, s("a and b eq 'c'"))
    );
}

#[test]
fn date_time_offset_literals_normalise_to_utc_ticks() {
    let midnight = Literal::DateTime(ticks("2021-01-01T00:00:00Z"));
    for text in [
        "2021-01-01T00:00:00Z",
        "2021-01-01T00:00Z",
        "2021-01-01T00:00:00.0000000Z",
        "2021-01-01T00:00:00.000000000000Z",
        "2021-01-01T02:00:00+02:00",
        "2020-12-31T19:00:00-05:00",
        "2021-01-01",
    ] {
        assert_eq!(
            filter(&format!("activityDateTime ge {text}")),
            compare(at(), CompareOp::Ge, midnight.clone()),
            "{text}"
        );
    }
    assert_eq!(
        filter("activityDateTime gt 2025-03-24T15:14:04.218565Z"),
        compare(at(), CompareOp::Gt, Literal::DateTime(ticks("2025-03-24T15:14:04.218565Z")))
    );
    assert_eq!(filter("activityDateTime eq null"), compare(at(), CompareOp::Eq, Literal::Null));
}

#[test]
fn sub_tick_date_time_offsets_adjust_the_operator() {
    let t = ticks("2024-01-01T00:00:00.1234567Z");
    let next = Literal::DateTime(Ticks(t.0 + 1));
    let this = Literal::DateTime(t);
    let finer = "2024-01-01T00:00:00.12345678Z";
    assert_eq!(filter(&format!("activityDateTime eq {finer}")), Filter::Constant(false));
    assert_eq!(filter(&format!("activityDateTime ne {finer}")), Filter::Constant(true));
    assert_eq!(filter(&format!("activityDateTime gt {finer}")), compare(at(), CompareOp::Gt, this.clone()));
    assert_eq!(filter(&format!("activityDateTime le {finer}")), compare(at(), CompareOp::Le, this.clone()));
    assert_eq!(filter(&format!("activityDateTime ge {finer}")), compare(at(), CompareOp::Ge, next.clone()));
    assert_eq!(filter(&format!("activityDateTime lt {finer}")), compare(at(), CompareOp::Lt, next.clone()));
    // Flipped first, then adjusted: `t lt field` is `field gt t`.
    assert_eq!(filter(&format!("{finer} lt activityDateTime")), compare(at(), CompareOp::Gt, this));
    assert_eq!(filter(&format!("activityDateTime in ({finer})")), Filter::In { field: at(), values: vec![] });

    // The adjusted comparisons keep the exact meaning on whole-tick values.
    let mut e = event();
    for (value, gt, ge) in [(t.0, false, false), (t.0 + 1, true, true)] {
        e.activity_date_time = Ticks(value).to_datetime();
        assert_eq!(hits(&format!("activityDateTime gt {finer}"), &e), gt);
        assert_eq!(hits(&format!("activityDateTime ge {finer}"), &e), ge);
        assert_eq!(hits(&format!("activityDateTime lt {finer}"), &e), !ge);
        assert_eq!(hits(&format!("activityDateTime le {finer}"), &e), !gt);
    }
}

#[test]
fn guid_null_and_boolean_literals() {
    let correlation = Field::Event(EventField::CorrelationId);
    let guid = Literal::Guid(Uuid::parse_str(GUID).unwrap());
    assert_eq!(
        filter(&format!("correlationId eq {GUID}")),
        compare(correlation, CompareOp::Eq, guid.clone())
    );
    assert_eq!(
        filter(&format!("correlationId eq {}", GUID.to_uppercase())),
        compare(correlation, CompareOp::Eq, guid)
    );
    assert_eq!(filter("category eq null"), compare(category(), CompareOp::Eq, Literal::Null));
    assert_eq!(filter("null ne category"), compare(category(), CompareOp::Ne, Literal::Null));
    // `null` is case-sensitive, so `NULL` is a (missing) property.
    assert_eq!(
        filter_error("category eq NULL"),
        "Invalid filter clause: Could not find a property named 'NULL' on type 'microsoft.graph.auditEvent'."
    );
    assert_eq!(
        filter("TRUE and category eq 'a'"),
        and(Filter::Constant(true), compare(category(), CompareOp::Eq, s("a")))
    );
}

#[test]
fn keywords_functions_and_property_names_ignore_case() {
    assert_eq!(
        filter("CATEGORY EQ 'a' AND ActivityDateTime GE 2021-01-01"),
        filter("category eq 'a' and activityDateTime ge 2021-01-01")
    );
    assert_eq!(filter("startsWith(category,'a')"), filter("STARTSWITH(category,'a')"));
    assert_eq!(
        filter("Resources/Any(r:r/ResourceId eq 'x')"),
        filter("resources/any(r:r/resourceId eq 'x')")
    );
    assert_eq!(filter("actor/type eq 'x'"), filter("actor/auditActorType eq 'x'"));
    assert_eq!(
        filter("resources/any(r:r/type eq 'x')"),
        filter("resources/any(r:r/auditResourceType eq 'x')")
    );
}

#[test]
fn text_functions() {
    for func in TextFunc::ALL {
        assert_eq!(
            filter(&format!("{}(actor/userPrincipalName,'adm')", func.name())),
            Filter::Text { func, field: Field::Actor(ActorField::UserPrincipalName), value: "adm".into() }
        );
    }
    let e = event();
    assert!(hits("contains(displayName,'enrollment')", &e));
    assert!(hits("startswith(displayName,'PATCH')", &e));
    assert!(hits("endswith(displayName,'configuration')", &e));
    assert!(!hits("endswith(displayName,'Patch')", &e));
    assert!(hits("contains(displayName,'')", &e));
}

#[test]
fn lambdas_nest_and_bind_arbitrary_variable_names() {
    let inner = compare(Field::Property(PropertyField::DisplayName), CompareOp::Eq, s("Limit"));
    let expected = Filter::Any {
        collection: Collection::Resources,
        predicate: Some(Box::new(Filter::Any {
            collection: Collection::ModifiedProperties,
            predicate: Some(Box::new(inner)),
        })),
    };
    assert_eq!(filter("resources/any(r:r/modifiedProperties/any(p:p/displayName eq 'Limit'))"), expected);
    assert_eq!(
        filter("resources/any( target : target/modifiedProperties/any( x1 : x1/displayName eq 'Limit' ) )"),
        expected
    );

    // Outer variables and the event's own properties stay reachable inside.
    assert_eq!(
        filter(
            "resources/any(r: r/modifiedProperties/any(p: p/oldValue eq '5' and r/displayName ne null and actor/userId eq null and category eq null))"
        ),
        filter(
            "resources/any(a: a/modifiedProperties/any(b: b/oldValue eq '5' and a/displayName ne null and actor/userId eq null and category eq null))"
        ),
    );
    assert_eq!(
        filter("actor/userPermissions/any(p: p eq '*')"),
        Filter::Any {
            collection: Collection::ActorUserPermissions,
            predicate: Some(Box::new(compare(Field::Permission, CompareOp::Eq, s("*")))),
        }
    );
    assert_eq!(filter("resources/any()"), Filter::Any { collection: Collection::Resources, predicate: None });
    assert_eq!(
        filter("resources/all(r: r/auditResourceType eq 'X')"),
        Filter::All {
            collection: Collection::Resources,
            predicate: Box::new(compare(Field::Resource(ResourceField::ResourceType), CompareOp::Eq, s("X"))),
        }
    );
    // The IntuneCD form.
    assert!(hits("resources/any(s:s/resourceId eq 'DF07F17C-2d58-42d9-8491-31d1a6c2a0b5')", &event()));
}

#[test]
fn scope_errors_are_clear() {
    let prefix = "Invalid filter clause: ";
    let cases = [
        ("r/displayName eq 'x'", "Could not find a property named 'r' on type 'microsoft.graph.auditEvent'."),
        (
            "resources/any(r: s/displayName eq 'x')",
            "Could not find a property named 's' on type 'microsoft.graph.auditEvent'.",
        ),
        (
            "resources/any(r: r/category eq 'x')",
            "Could not find a property named 'category' on type 'microsoft.graph.auditResource'.",
        ),
        (
            "resources/any(r: r/modifiedProperties/any(p: p/resourceId eq 'x'))",
            "Could not find a property named 'resourceId' on type 'microsoft.graph.auditProperty'.",
        ),
        (
            "modifiedProperties/any(p: p/displayName eq 'x')",
            "Could not find a property named 'modifiedProperties' on type 'microsoft.graph.auditEvent'.",
        ),
        (
            "actor/displayName eq 'x'",
            "Could not find a property named 'displayName' on type 'microsoft.graph.auditActor'.",
        ),
        ("category/length eq 'x'", "Could not find a property named 'length' on type 'Edm.String'."),
        (
            "resources/displayName eq 'x'",
            "The parent value for a property access of a property 'displayName' is not a single value. Property access can only be applied to a single value.",
        ),
        ("category/any(c: c eq 'x')", "Any/All may only be used following a collection."),
        (
            "resources/any(r: r/modifiedProperties/any(r: r/displayName eq 'x'))",
            "The range variable 'r' has already been declared.",
        ),
        (
            "resources/any(r: resources/any(s: s/displayName eq 'x'))",
            "A lambda inside another lambda over the same collection is not supported.",
        ),
        (
            "resources/any(r: r/displayName)",
            "The Any/All query expression must evaluate to a single boolean value.",
        ),
        (
            "resources/any(r: r eq 'x')",
            "A binary operator with incompatible types was detected. Found operand types 'microsoft.graph.auditResource' and 'Edm.String' for operator kind 'Equal'.",
        ),
        (
            "actor eq 'x'",
            "A binary operator with incompatible types was detected. Found operand types 'microsoft.graph.auditActor' and 'Edm.String' for operator kind 'Equal'.",
        ),
        (
            "actor/userPermissions eq '*'",
            "The operand for a binary operator 'Equal' is not a single value. Binary operators require both operands to be single values.",
        ),
        (
            "actor/userPermissions/any(p: p/x eq '*')",
            "Could not find a property named 'x' on type 'Edm.String'.",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(filter_error(text), format!("{prefix}{message}"), "{text}");
    }
}

#[test]
fn type_errors_quote_odl_operator_kinds() {
    let cases = [
        (
            "activityDateTime ge '2026-07-01T00:00:00'",
            "'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'",
        ),
        (
            "activityDateTime gt '2026-07-01T00:00:00Z'",
            "'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThan'",
        ),
        ("activityDateTime lt 'x'", "'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'LessThan'"),
        (
            "activityDateTime le 'x'",
            "'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'LessThanOrEqual'",
        ),
        (
            "correlationId eq '52effe71-fe71-52ef-71fe-ef5271feef52'",
            "'Edm.Guid' and 'Edm.String' for operator kind 'Equal'",
        ),
        ("correlationId ne 'x'", "'Edm.Guid' and 'Edm.String' for operator kind 'NotEqual'"),
        ("'x' eq correlationId", "'Edm.String' and 'Edm.Guid' for operator kind 'Equal'"),
        (
            "id eq 52effe71-fe71-52ef-71fe-ef5271feef52",
            "'Edm.String' and 'Edm.Guid' for operator kind 'Equal'",
        ),
        ("category eq 1", "'Edm.String' and 'Edm.Int32' for operator kind 'Equal'"),
        ("category eq 1.5", "'Edm.String' and 'Edm.Decimal' for operator kind 'Equal'"),
        ("category eq true", "'Edm.String' and 'Edm.Boolean' for operator kind 'Equal'"),
        ("category eq 2021-01-01", "'Edm.String' and 'Edm.Date' for operator kind 'Equal'"),
        (
            "correlationId eq 2021-01-01T00:00:00Z",
            "'Edm.Guid' and 'Edm.DateTimeOffset' for operator kind 'Equal'",
        ),
        ("category and true", "'Edm.String' and 'Edm.Boolean' for operator kind 'And'"),
        ("true or category", "'Edm.Boolean' and 'Edm.String' for operator kind 'Or'"),
    ];
    for (text, types) in cases {
        assert_eq!(
            filter_error(text),
            format!(
                "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types {types}."
            ),
            "{text}"
        );
    }
}

#[test]
fn graph_error_texts() {
    assert_eq!(
        filter_error("createdDateTime ge 2021-01-01T00:00:00Z"),
        "Invalid filter clause: Could not find a property named 'createdDateTime' on type 'microsoft.graph.auditEvent'."
    );
    assert_eq!(
        filter_error("iswhatever 12"),
        "Invalid filter clause: Syntax error at position 13 in 'iswhatever 12'."
    );
    assert_eq!(
        filter_error("activityDateTime ge 2026-07-01T00:00:00"),
        "Invalid filter clause: The DateTimeOffset text '2026-07-01T00:00:00' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
    );
    assert_eq!(
        filter_error("activityDateTime ge 2023-09-28T21:14:43.4437014 05:30"),
        "Invalid filter clause: The DateTimeOffset text '2023-09-28T21:14:43.4437014' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
    );
    assert_eq!(
        filter_error("activityDateTime ge 2024-02-30"),
        "Invalid filter clause: The DateTimeOffset text '2024-02-30' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
    );
    assert_eq!(
        filter_error("category eq 'abc"),
        "Invalid filter clause: There is an unterminated string literal at position 16 in 'category eq 'abc'."
    );
    assert_eq!(
        filter_error("category eq @p"),
        "Invalid filter clause: Syntax error: character '@' is not valid at position 12 in 'category eq @p'."
    );
    assert_eq!(
        filter_error("category"),
        "Invalid filter clause: The $filter expression must evaluate to a single boolean value."
    );
}

#[test]
fn function_errors() {
    let prefix = "Invalid filter clause: ";
    let signature = |name: &str, canonical: &str| {
        format!(
            "{prefix}No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {canonical}(Edm.String Nullable=true, Edm.String Nullable=true)."
        )
    };
    assert_eq!(
        filter_error("iscool(category)"),
        format!(
            "{prefix}An unknown function with name 'iscool' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
        )
    );
    assert_eq!(
        filter_error("tolower(category) eq 'a'"),
        format!("{prefix}The function 'tolower' is not supported.")
    );
    assert_eq!(filter_error("contains(category)"), signature("contains", "contains"));
    assert_eq!(filter_error("startsWith(activityDateTime,'2024')"), signature("startsWith", "startswith"));
    assert_eq!(filter_error("endswith(category,1)"), signature("endswith", "endswith"));
    assert_eq!(filter_error("contains(resources,'x')"), signature("contains", "contains"));
    assert_eq!(
        filter_error("contains('abc',category)"),
        format!(
            "{prefix}The first argument of 'contains' must be a property and the second a string literal."
        )
    );
    assert_eq!(
        filter_error("contains(category,null)"),
        format!("{prefix}A null argument to 'contains' is not supported.")
    );
}

#[test]
fn unsupported_shapes_say_so() {
    let prefix = "Invalid filter clause: ";
    assert_eq!(
        filter_error("category eq activity"),
        format!("{prefix}A comparison must have a property on one side and a literal value on the other.")
    );
    assert_eq!(
        filter_error("'a' eq 'a'"),
        format!("{prefix}A comparison must have a property on one side and a literal value on the other.")
    );
    assert_eq!(
        filter_error("category has 'a'"),
        format!("{prefix}The 'has' operator is not supported: auditEvent has no enumeration properties.")
    );
    assert_eq!(
        filter_error("category in (activity)"),
        format!("{prefix}The right operand of 'in' must be a list of literal values.")
    );
    assert_eq!(filter_error("'a' in ('a')"), format!("{prefix}The left operand of 'in' must be a property."));
    assert_eq!(
        filter_error("correlationId in ('x')"),
        format!(
            "{prefix}An instance of InNode can only be created where the item types of the right operand 'Edm.String' and the left operand 'Edm.Guid' can be compared."
        )
    );
}

// ---------------------------------------------------------------------------------
// Evaluation: null semantics, case folding, lambdas, ordering

#[test]
fn null_semantics() {
    let e = event(); // category and activity are null; componentName is 'DeviceIntent'
    assert!(hits("category eq null", &e));
    assert!(!hits("category ne null", &e));
    assert!(!hits("componentName eq null", &e));
    assert!(hits("componentName ne null", &e));
    assert!(!hits("category eq 'X'", &e));
    assert!(hits("category ne 'X'", &e), "ne is true on null");
    for op in ["gt", "ge", "lt", "le"] {
        assert!(!hits(&format!("category {op} 'X'"), &e), "{op} on a null field");
        assert!(!hits(&format!("componentName {op} null"), &e), "{op} against null");
        assert!(!hits(&format!("category {op} null"), &e), "{op} null against null");
    }
    assert!(hits("not(category eq 'X')", &e), "eq is false, not null, so not(eq) is true");
    for func in ["contains", "startswith", "endswith"] {
        assert!(!hits(&format!("{func}(category,'x')"), &e));
        assert!(!hits(&format!("not({func}(category,'x'))"), &e), "not(null) is null");
    }
    assert!(hits("not(contains(category,'x')) or true", &e), "null or true is true");
    assert!(!hits("contains(category,'x') or false", &e), "null or false is null");
    assert!(!hits("contains(category,'x') and true", &e));
    assert!(!hits("not(contains(category,'x') and false) and not(contains(category,'x'))", &e));
    assert!(hits("not(contains(category,'x') and false)", &e), "null and false is false");
    assert!(hits("category in ('a', null)", &e));
    assert!(!hits("category in ('a')", &e));
    assert!(!hits("category in ()", &e));
    assert!(!hits("componentName in ()", &e));
    // An absent actor: every actor field is null, userPermissions is empty.
    let mut anonymous = e.clone();
    anonymous.actor = None;
    assert!(hits("actor/userPrincipalName eq null", &anonymous));
    assert!(!hits("actor/userPermissions/any()", &anonymous));
    assert!(hits("actor/userPermissions/all(p: p eq 'x')", &anonymous));
}

#[test]
fn lambdas_on_empty_and_null_predicates() {
    let mut e = event();
    assert!(hits("resources/any()", &e));
    assert!(hits("resources/any(r: r/modifiedProperties/any(p: p/displayName eq 'LIMIT'))", &e));
    assert!(hits("resources/all(r: r/modifiedProperties/all(p: p/newValue eq null))", &e));
    assert!(!hits("resources/any(r: r/modifiedProperties/any(p: contains(p/newValue,'x')))", &e));
    assert!(
        !hits("resources/all(r: r/modifiedProperties/all(p: contains(p/newValue,'x')))", &e),
        "a null predicate is not true"
    );
    assert!(
        hits("not(resources/all(r: r/modifiedProperties/all(p: contains(p/newValue,'x'))))", &e),
        "all is never null"
    );
    assert!(hits("actor/userPermissions/any(p: p eq '*')", &e));
    e.resources.clear();
    assert!(!hits("resources/any()", &e));
    assert!(!hits("resources/any(r: true)", &e), "any on empty is false");
    assert!(hits("resources/all(r: false)", &e), "all on empty is true");
}

#[test]
fn strings_compare_case_insensitively() {
    let e = event();
    assert!(hits("componentName eq 'deviceintent'", &e));
    assert!(!hits("componentName ne 'DEVICEINTENT'", &e));
    assert!(hits("componentName in ('x','DEVICEintent')", &e));
    assert!(hits("componentName gt 'DEVICE' and componentName lt 'e'", &e));
    assert!(hits("actor/userPrincipalName eq 'admin@contoso.com'", &e));
    assert!(hits(
        "activityDateTime ge 2024-07-22T22:17:09.7552025Z and activityDateTime le 2024-07-22T22:17:09.7552025Z",
        &e
    ));
    assert!(hits("activityDateTime gt 2024-07-22T22:17:09.7552024Z", &e));
    assert!(hits("correlationId eq 52EFFE71-FE71-52EF-71FE-EF5271FEEF52", &e));
    assert!(hits("correlationId gt 52effe71-fe71-52ef-71fe-ef5271feef51", &e));
}

fn order_event(id: &str, category: Option<&str>, at: &str) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        category: category.map(Into::into),
        activity_date_time: ticks(at).to_datetime(),
        ..event()
    }
}

#[test]
fn ordering_folds_strings_sorts_nulls_as_empty_and_breaks_ties_by_id() {
    use std::cmp::Ordering::*;
    let key = |field, descending| OrderKey { field, descending };
    let a = order_event("a", Some("beta"), "2024-01-01T00:00:00Z");
    let b = order_event("b", Some("Alpha"), "2024-01-02T00:00:00Z");
    let c = order_event("c", None, "2024-01-02T00:00:00Z");
    let d = order_event("d", Some(""), "2024-01-02T00:00:00Z");
    let by_category = [key(EventField::Category, false)];
    assert_eq!(eval::compare(&by_category, &b, &a), Less, "Alpha < beta, folded");
    assert_eq!(eval::compare(&by_category, &c, &b), Less, "null sorts first ascending");
    assert_eq!(eval::compare(&by_category, &c, &d), Less, "null ties with '' and falls to id asc");
    let by_category_desc = [key(EventField::Category, true)];
    assert_eq!(eval::compare(&by_category_desc, &c, &d), Greater, "tie falls to id desc after a desc key");
    let default = [key(EventField::ActivityDateTime, true)];
    assert_eq!(eval::compare(&default, &b, &a), Less, "newer first");
    assert_eq!(eval::compare(&default, &b, &c), Greater, "same time: id descending");
    assert_eq!(eval::compare(&[], &b, &c), Less, "no keys: id ascending");
    let two = [key(EventField::ActivityDateTime, true), key(EventField::Category, false)];
    assert_eq!(eval::compare(&two, &c, &d), Less, "same time, null = '' category, id ascending");
    assert_eq!(eval::compare(&two, &a, &a), Equal);
}

// ---------------------------------------------------------------------------------
// Canonical text

#[test]
fn display_is_canonical_odata() {
    let cases = [
        ("CATEGORY EQ 'O''Neil'", "category eq 'O''Neil'"),
        ("'x' gt category", "category lt 'x'"),
        ("activityDateTime ge 2021-01-01T02:00+02:00", "activityDateTime ge 2021-01-01T00:00:00.0000000Z"),
        (
            "correlationId eq 52EFFE71-FE71-52EF-71FE-EF5271FEEF52",
            "correlationId eq 52effe71-fe71-52ef-71fe-ef5271feef52",
        ),
        (
            "(category eq 'a' or category eq 'b') and category eq 'c'",
            "(category eq 'a' or category eq 'b') and category eq 'c'",
        ),
        (
            "category eq 'a' or (category eq 'b' or category eq 'c')",
            "category eq 'a' or (category eq 'b' or category eq 'c')",
        ),
        (
            "category eq 'a' and (category eq 'b' and category eq 'c')",
            "category eq 'a' and (category eq 'b' and category eq 'c')",
        ),
        (
            "category eq 'a' or category eq 'b' or category eq 'c'",
            "category eq 'a' or category eq 'b' or category eq 'c'",
        ),
        ("NOT category in ('a',null)", "not(category in ('a',null))"),
        ("startsWith(actor/type,'It')", "startswith(actor/auditActorType,'It')"),
        (
            "resources/any(s:s/modifiedProperties/any(x:x/displayName eq 'Limit'))",
            "resources/any(r:r/modifiedProperties/any(p:p/displayName eq 'Limit'))",
        ),
        ("actor/userPermissions/all(perm: perm ne '*')", "actor/userPermissions/all(u:u ne '*')"),
        ("resources/ANY()", "resources/any()"),
    ];
    for (input, canonical) in cases {
        let parsed = filter(input);
        assert_eq!(parsed.to_string(), canonical, "{input}");
        assert_eq!(filter(canonical), parsed);
    }
}

// ---------------------------------------------------------------------------------
// Query options

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

mod properties {
    use proptest::prelude::*;
    use proptest::strategy::{BoxedStrategy, Union};

    use super::super::*;
    use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, Ticks};
    use uuid::Uuid;

    /// Which lambda variables are in scope while generating a predicate.
    #[derive(Debug, Clone, Copy, Default)]
    struct Scope {
        resource: bool,
        property: bool,
        permission: bool,
    }

    const MIN_TICKS: i64 = -621_355_968_000_000_000; // 0001-01-01T00:00:00Z
    const MAX_TICKS: i64 = 2_534_023_007_999_999_999; // 9999-12-31T23:59:59.9999999Z
    const T0: i64 = 17_000_000_000_000_000;
    const G0: u128 = 0x52effe71_fe71_52ef_71fe_ef5271feef52;

    /// A few values that collide often (so comparisons hit) plus arbitrary text
    /// with quotes and non-ASCII (so the round trip is exercised).
    fn text() -> BoxedStrategy<String> {
        prop_oneof![
            3 => prop::sample::select(vec!["a", "A", "b", "ab", "", "É"]).prop_map(String::from),
            1 => "[ -~éÉß']{0,6}",
        ]
        .boxed()
    }

    fn ticks() -> BoxedStrategy<Ticks> {
        prop_oneof![
            2 => prop::sample::select(vec![T0, T0 + 1, T0 + 10_000_000]).prop_map(Ticks),
            1 => (MIN_TICKS..=MAX_TICKS).prop_map(Ticks),
        ]
        .boxed()
    }

    fn guid() -> BoxedStrategy<Uuid> {
        prop_oneof![
            2 => prop::sample::select(vec![G0, G0 + 1]).prop_map(Uuid::from_u128),
            1 => any::<u128>().prop_map(Uuid::from_u128),
        ]
        .boxed()
    }

    fn fields(scope: Scope) -> Vec<Field> {
        let mut fields: Vec<Field> = EventField::ALL.iter().map(|&f| Field::Event(f)).collect();
        fields.extend(ActorField::ALL.iter().map(|&f| Field::Actor(f)));
        if scope.resource {
            fields.extend(ResourceField::ALL.iter().map(|&f| Field::Resource(f)));
        }
        if scope.property {
            fields.extend(PropertyField::ALL.iter().map(|&f| Field::Property(f)));
        }
        if scope.permission {
            fields.push(Field::Permission);
        }
        fields
    }

    fn literal(field_type: FieldType) -> BoxedStrategy<Literal> {
        let value = match field_type {
            FieldType::String => text().prop_map(Literal::String).boxed(),
            FieldType::DateTimeOffset => ticks().prop_map(Literal::DateTime).boxed(),
            FieldType::Guid => guid().prop_map(Literal::Guid).boxed(),
        };
        prop_oneof![1 => Just(Literal::Null), 5 => value].boxed()
    }

    fn leaf(scope: Scope) -> BoxedStrategy<Filter> {
        let all = fields(scope);
        let strings: Vec<Field> =
            all.iter().copied().filter(|f| f.field_type() == FieldType::String).collect();
        let mut leaves = vec![
            (prop::sample::select(all.clone()), prop::sample::select(CompareOp::ALL.to_vec()))
                .prop_flat_map(|(field, op)| {
                    literal(field.field_type()).prop_map(move |value| Filter::Compare { field, op, value })
                })
                .boxed(),
            prop::sample::select(all)
                .prop_flat_map(|field| {
                    prop::collection::vec(literal(field.field_type()), 0..3)
                        .prop_map(move |values| Filter::In { field, values })
                })
                .boxed(),
            (prop::sample::select(TextFunc::ALL.to_vec()), prop::sample::select(strings), text())
                .prop_map(|(func, field, value)| Filter::Text { func, field, value })
                .boxed(),
            any::<bool>().prop_map(Filter::Constant).boxed(),
        ];
        let mut empty_checks = vec![Collection::Resources, Collection::ActorUserPermissions];
        if scope.resource {
            empty_checks.push(Collection::ModifiedProperties);
        }
        leaves.push(
            prop::sample::select(empty_checks)
                .prop_map(|collection| Filter::Any { collection, predicate: None })
                .boxed(),
        );
        Union::new(leaves).boxed()
    }

    /// Well-scoped filters: every field reference has its lambda, no lambda nests
    /// inside another over the same collection.
    fn filter(scope: Scope, depth: u32) -> BoxedStrategy<Filter> {
        if depth == 0 {
            return leaf(scope);
        }
        let sub = || filter(scope, depth - 1);
        let mut options: Vec<(u32, BoxedStrategy<Filter>)> = vec![
            (3, leaf(scope)),
            (1, (sub(), sub()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))).boxed()),
            (1, (sub(), sub()).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))).boxed()),
            (1, sub().prop_map(|f| Filter::Not(Box::new(f))).boxed()),
        ];
        let mut lambdas = Vec::new();
        if !scope.resource {
            lambdas.push((Collection::Resources, Scope { resource: true, ..scope }));
        }
        if scope.resource && !scope.property {
            lambdas.push((Collection::ModifiedProperties, Scope { property: true, ..scope }));
        }
        if !scope.permission {
            lambdas.push((Collection::ActorUserPermissions, Scope { permission: true, ..scope }));
        }
        for (collection, inner) in lambdas {
            options.push((
                1,
                (filter(inner, depth - 1), any::<bool>())
                    .prop_map(move |(predicate, is_any)| {
                        if is_any {
                            Filter::Any { collection, predicate: Some(Box::new(predicate)) }
                        } else {
                            Filter::All { collection, predicate: Box::new(predicate) }
                        }
                    })
                    .boxed(),
            ));
        }
        Union::new_weighted(options).boxed()
    }

    fn root_filter() -> BoxedStrategy<Filter> {
        filter(Scope::default(), 3)
    }

    fn maybe_text() -> BoxedStrategy<Option<String>> {
        prop::option::of(text()).boxed()
    }

    fn property() -> impl Strategy<Value = AuditProperty> {
        (maybe_text(), maybe_text(), maybe_text()).prop_map(|(display_name, old_value, new_value)| {
            AuditProperty { display_name, old_value, new_value }
        })
    }

    fn resource() -> impl Strategy<Value = AuditResource> {
        (maybe_text(), maybe_text(), maybe_text(), prop::collection::vec(property(), 0..3)).prop_map(
            |(display_name, resource_type, resource_id, modified_properties)| AuditResource {
                display_name,
                resource_type,
                resource_id,
                modified_properties,
            },
        )
    }

    fn actor() -> impl Strategy<Value = AuditActor> {
        (
            (maybe_text(), prop::collection::vec(text(), 0..3), maybe_text(), maybe_text(), maybe_text()),
            (maybe_text(), maybe_text(), maybe_text(), maybe_text(), maybe_text()),
        )
            .prop_map(
                |(
                    (
                        actor_type,
                        user_permissions,
                        application_id,
                        application_display_name,
                        user_principal_name,
                    ),
                    (service_principal_name, ip_address, user_id, remote_tenant_id, remote_user_id),
                )| AuditActor {
                    actor_type,
                    user_permissions,
                    application_id,
                    application_display_name,
                    user_principal_name,
                    service_principal_name,
                    ip_address,
                    user_id,
                    remote_tenant_id,
                    remote_user_id,
                    user_role_scope_tags: Vec::new(),
                },
            )
    }

    fn event() -> impl Strategy<Value = AuditEvent> {
        (
            (text(), maybe_text(), maybe_text(), prop::option::of(actor()), maybe_text(), ticks()),
            (
                maybe_text(),
                maybe_text(),
                maybe_text(),
                guid(),
                maybe_text(),
                prop::collection::vec(resource(), 0..3),
            ),
        )
            .prop_map(
                |(
                    (id, display_name, component_name, actor, activity, at),
                    (
                        activity_type,
                        activity_operation_type,
                        activity_result,
                        correlation_id,
                        category,
                        resources,
                    ),
                )| AuditEvent {
                    id,
                    display_name,
                    component_name,
                    actor,
                    activity,
                    activity_date_time: at.to_datetime(),
                    activity_type,
                    activity_operation_type,
                    activity_result,
                    correlation_id,
                    category,
                    resources,
                },
            )
    }

    fn boxed(f: &Filter) -> Box<Filter> {
        Box::new(f.clone())
    }

    /// Whether evaluation of `f` can be null (only text functions produce null).
    fn can_be_null(f: &Filter) -> bool {
        match f {
            Filter::Text { .. } => true,
            Filter::And(l, r) | Filter::Or(l, r) => can_be_null(l) || can_be_null(r),
            Filter::Not(inner) => can_be_null(inner),
            _ => false,
        }
    }

    /// An independent statement of the comparison table (odata.md §3.7) for the
    /// event's string fields, written directly against the event.
    fn reference_compare(value: Option<&str>, op: CompareOp, literal: &Literal) -> bool {
        match (value, literal) {
            (None, Literal::Null) => op == CompareOp::Eq,
            (Some(_), Literal::Null) => op == CompareOp::Ne,
            (None, _) => op == CompareOp::Ne,
            (Some(v), Literal::String(l)) => {
                let (v, l) = (v.to_lowercase(), l.to_lowercase());
                match op {
                    CompareOp::Eq => v == l,
                    CompareOp::Ne => v != l,
                    CompareOp::Gt => v > l,
                    CompareOp::Ge => v >= l,
                    CompareOp::Lt => v < l,
                    CompareOp::Le => v <= l,
                }
            }
            _ => unreachable!(),
        }
    }

    fn event_string(field: EventField, e: &AuditEvent) -> Option<&str> {
        match field {
            EventField::Id => Some(&e.id),
            EventField::DisplayName => e.display_name.as_deref(),
            EventField::ComponentName => e.component_name.as_deref(),
            EventField::Activity => e.activity.as_deref(),
            EventField::ActivityType => e.activity_type.as_deref(),
            EventField::ActivityOperationType => e.activity_operation_type.as_deref(),
            EventField::ActivityResult => e.activity_result.as_deref(),
            EventField::Category => e.category.as_deref(),
            EventField::ActivityDateTime | EventField::CorrelationId => unreachable!(),
        }
    }

    /// A root-scope field with a literal and a list of literals of its type.
    fn comparison() -> impl Strategy<Value = (Field, Literal, Vec<Literal>)> {
        prop::sample::select(fields(Scope::default())).prop_flat_map(|field| {
            let t = field.field_type();
            (Just(field), literal(t), prop::collection::vec(literal(t), 0..3))
        })
    }

    proptest! {
        // No failure file: a shrunk case is printed in the failure message, and this
        // module writes nothing outside its own folder.
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_text_parses_or_fails_cleanly_and_canonical_text_is_stable(
            text in prop_oneof![
                "[ -~é]{0,40}",
                prop::collection::vec(prop::sample::select(vec![
                    "category", "actor/userPrincipalName", "activityDateTime", "correlationId",
                    "resources/any(r:", "r/displayName", "actor/userPermissions/all(u:", "u",
                    "eq", "ne", "gt", "le", "in", "and", "or", "not", "(", ")", ",", "'a'", "'O''b'",
                    "null", "true", "2024-01-01T00:00:00.12345678Z", "2024-01-01",
                    "52effe71-fe71-52ef-71fe-ef5271feef52", "contains(category,'x')", "('a',null)",
                ]), 1..12).prop_map(|tokens| tokens.join(" ")),
            ]
        ) {
            if let Ok(f) = parse_filter(&text) {
                let canonical = f.to_string();
                prop_assert_eq!(parse_filter(&canonical).map_err(|e| e.message), Ok(f), "{} → {}", text, canonical);
            }
            let _ = QueryOptions::parse(&text);
            let _ = parse_orderby(&text);
            let _ = parse_select(&text);
        }

        #[test]
        fn display_round_trips(f in root_filter()) {
            let text = f.to_string();
            prop_assert_eq!(parse_filter(&text).map_err(|e| e.message), Ok(f), "{}", text);
        }

        #[test]
        fn logical_laws_hold(a in root_filter(), b in root_filter(), e in event()) {
            let m = |f: &Filter| eval::matches(f, &e);
            prop_assert_eq!(m(&Filter::Not(Box::new(Filter::Not(boxed(&a))))), m(&a));
            prop_assert_eq!(
                m(&Filter::Not(Box::new(Filter::And(boxed(&a), boxed(&b))))),
                m(&Filter::Or(Box::new(Filter::Not(boxed(&a))), Box::new(Filter::Not(boxed(&b)))))
            );
            prop_assert_eq!(
                m(&Filter::Not(Box::new(Filter::Or(boxed(&a), boxed(&b))))),
                m(&Filter::And(Box::new(Filter::Not(boxed(&a))), Box::new(Filter::Not(boxed(&b)))))
            );
            prop_assert_eq!(m(&Filter::And(boxed(&a), boxed(&b))), m(&Filter::And(boxed(&b), boxed(&a))));
            prop_assert_eq!(m(&Filter::Or(boxed(&a), boxed(&b))), m(&Filter::Or(boxed(&b), boxed(&a))));
            prop_assert!(!(m(&a) && m(&Filter::Not(boxed(&a)))));
            if !can_be_null(&a) {
                prop_assert_eq!(m(&Filter::Not(boxed(&a))), !m(&a));
            }
        }

        #[test]
        fn comparison_laws_hold((field, value, items) in comparison(), e in event()) {
            let m = |f: &Filter| eval::matches(f, &e);
            let cmp = |op| Filter::Compare { field, op, value: value.clone() };
            prop_assert_eq!(m(&cmp(CompareOp::Ne)), m(&Filter::Not(Box::new(cmp(CompareOp::Eq)))));
            if value != Literal::Null {
                prop_assert_eq!(m(&cmp(CompareOp::Ge)), m(&cmp(CompareOp::Gt)) || m(&cmp(CompareOp::Eq)));
                prop_assert_eq!(m(&cmp(CompareOp::Le)), m(&cmp(CompareOp::Lt)) || m(&cmp(CompareOp::Eq)));
                if !field.is_nullable() {
                    prop_assert_eq!(m(&cmp(CompareOp::Lt)), !m(&cmp(CompareOp::Ge)));
                }
            }
            if let Field::Event(event_field) = field
                && field.field_type() == FieldType::String
            {
                for op in CompareOp::ALL {
                    prop_assert_eq!(m(&Filter::Compare { field, op, value: value.clone() }),
                        reference_compare(event_string(event_field, &e), op, &value));
                }
            }
            // `in` is the `or` of `eq` over its items.
            let as_or = items
                .iter()
                .map(|v| Filter::Compare { field, op: CompareOp::Eq, value: v.clone() })
                .reduce(|l, r| Filter::Or(Box::new(l), Box::new(r)))
                .unwrap_or(Filter::Constant(false));
            prop_assert_eq!(m(&Filter::In { field, values: items }), m(&as_or));
        }

        #[test]
        fn all_is_not_any_not_for_null_free_predicates(f in filter(Scope { resource: true, ..Scope::default() }, 2), e in event()) {
            if can_be_null(&f) {
                return Ok(());
            }
            let all = Filter::All { collection: Collection::Resources, predicate: boxed(&f) };
            let not_any_not = Filter::Not(Box::new(Filter::Any {
                collection: Collection::Resources,
                predicate: Some(Box::new(Filter::Not(boxed(&f)))),
            }));
            prop_assert_eq!(eval::matches(&all, &e), eval::matches(&not_any_not, &e));
        }

        #[test]
        fn ordering_is_total_with_the_id_tiebreak(
            keys in prop::collection::vec((prop::sample::select(EventField::ALL.to_vec()), any::<bool>()), 0..3),
            a in event(), b in event(), c in event(),
        ) {
            let keys: Vec<OrderKey> = keys.into_iter().map(|(field, descending)| OrderKey { field, descending }).collect();
            let cmp = |x: &AuditEvent, y: &AuditEvent| eval::compare(&keys, x, y);
            prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
            prop_assert_eq!(cmp(&a, &b) == std::cmp::Ordering::Equal, {
                // Equal only when every key ties and the ids are the same.
                a.id == b.id && keys.iter().all(|k| eval::compare(&[*k], &a, &b) == std::cmp::Ordering::Equal)
            });
            if cmp(&a, &b).is_le() && cmp(&b, &c).is_le() {
                prop_assert!(cmp(&a, &c).is_le());
            }
            // An `id` key would itself order these two; otherwise only the tiebreak does.
            if keys.iter().all(|k| k.field != EventField::Id) {
                let same_keys = AuditEvent { id: format!("{}~", a.id), ..a.clone() };
                let descending = keys.last().is_some_and(|k| k.descending);
                let expected = if descending { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Less };
                prop_assert_eq!(cmp(&a, &same_keys), expected);
            }
        }
    }
}
