//! End-to-end tests of the public API: `$filter` parsing and checking, evaluation,
//! ordering, query-string decoding, the real-client fixture, and property tests.
//!
//! One file per section: `operators` (operators, literals, normalisation and the
//! errors of parsing and checking), `evaluation` (null semantics, case folding,
//! lambdas, ordering), `canonical_text`, `query_options` (decoding, the real-client
//! fixture, depth bounds) and `properties` (proptest laws and round trips). The
//! helpers below are shared by all but `properties`.

mod canonical_text;
mod evaluation;
mod operators;
mod properties;
mod query_options;

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
