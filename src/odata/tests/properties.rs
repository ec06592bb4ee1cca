//! Property tests (proptest): any text parses or fails cleanly, canonical text round
//! trips, logical and comparison laws against a reference, and a total ordering.

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
    let strings: Vec<Field> = all.iter().copied().filter(|f| f.field_type() == FieldType::String).collect();
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
    (maybe_text(), maybe_text(), maybe_text())
        .prop_map(|(display_name, old_value, new_value)| AuditProperty { display_name, old_value, new_value })
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
                (actor_type, user_permissions, application_id, application_display_name, user_principal_name),
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
