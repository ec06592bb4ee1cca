//! `$filter` operators, literals and normalisation, and the errors of parsing and
//! checking.

use super::*;

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
