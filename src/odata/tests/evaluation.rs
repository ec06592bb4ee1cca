//! Evaluation: null semantics, case folding, lambdas, ordering.

use super::*;

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
