//! Sort keys and keyset cursors. Every `$orderby` key maps to one column; the
//! hidden tiebreak is `id`, in the direction of the last key, so the order is
//! total and a cursor (the last row's sort values) pins a position exactly.

use entities::audit_event::Column;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, Order};

use crate::domain::{AuditEvent, Ticks, fold};
use crate::odata::{EventField, OrderKey};

/// The order when `$orderby` is absent: newest first, as the admin center shows.
pub fn default_order() -> Vec<OrderKey> {
    vec![OrderKey { field: EventField::ActivityDateTime, descending: true }]
}

/// One sort value of a row, as the database compares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Ticks(i64),
    Text(String),
}

/// A position in an ordered result: the sort values and id of the last row served.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub keys: Vec<SortValue>,
    pub id: String,
}

pub(super) fn column(field: EventField) -> Column {
    match field {
        EventField::Id => Column::IdCi,
        EventField::DisplayName => Column::DisplayNameCi,
        EventField::ComponentName => Column::ComponentNameCi,
        EventField::Activity => Column::ActivityCi,
        EventField::ActivityDateTime => Column::ActivityTicks,
        EventField::ActivityType => Column::ActivityTypeCi,
        EventField::ActivityOperationType => Column::ActivityOperationTypeCi,
        EventField::ActivityResult => Column::ActivityResultCi,
        EventField::CorrelationId => Column::CorrelationId,
        EventField::Category => Column::CategoryCi,
    }
}

fn text(value: &Option<String>) -> SortValue {
    SortValue::Text(value.as_deref().map(fold).unwrap_or_default())
}

/// The sort value of `field` in `event`, exactly as its column stores it.
fn sort_value(field: EventField, e: &AuditEvent) -> SortValue {
    match field {
        EventField::Id => SortValue::Text(fold(&e.id)),
        EventField::DisplayName => text(&e.display_name),
        EventField::ComponentName => text(&e.component_name),
        EventField::Activity => text(&e.activity),
        EventField::ActivityDateTime => SortValue::Ticks(Ticks::from_datetime(e.activity_date_time).0),
        EventField::ActivityType => text(&e.activity_type),
        EventField::ActivityOperationType => text(&e.activity_operation_type),
        EventField::ActivityResult => text(&e.activity_result),
        EventField::CorrelationId => SortValue::Text(e.correlation_id.hyphenated().to_string()),
        EventField::Category => text(&e.category),
    }
}

/// The cursor just after `event` in the given order.
pub fn sort_values(order: &[OrderKey], event: &AuditEvent) -> Cursor {
    Cursor { keys: order.iter().map(|k| sort_value(k.field, event)).collect(), id: event.id.clone() }
}

fn direction(descending: bool) -> Order {
    if descending { Order::Desc } else { Order::Asc }
}

/// ORDER BY terms: the keys, then the id tiebreak.
pub(super) fn order_terms(order: &[OrderKey]) -> Vec<(Column, Order)> {
    let last_descending = order.last().is_some_and(|k| k.descending);
    order
        .iter()
        .map(|k| (column(k.field), direction(k.descending)))
        .chain(std::iter::once((Column::Id, direction(last_descending))))
        .collect()
}

fn value_expr(value: &SortValue) -> SimpleExpr {
    match value {
        SortValue::Ticks(t) => Expr::val(*t),
        SortValue::Text(s) => Expr::val(s.clone()),
    }
}

/// Rows strictly after `cursor`: (k1 after v1) OR (k1 = v1 AND k2 after v2) OR …,
/// which every backend plans as index range scans, unlike row-value comparisons.
/// The whole is ANDed with "k1 not before v1": with the values bound as
/// parameters, SQLite only bounds its index range by a plain conjunct, and without
/// one it walks every row before the cursor, making deep pages cost their depth.
pub(super) fn after(order: &[OrderKey], cursor: &Cursor) -> Option<Condition> {
    if cursor.keys.len() != order.len() {
        return None;
    }
    let terms = order_terms(order);
    let values: Vec<SimpleExpr> =
        cursor.keys.iter().map(value_expr).chain(std::iter::once(Expr::val(cursor.id.clone()))).collect();
    let mut any = Condition::any();
    for i in 0..terms.len() {
        let mut all = Condition::all();
        for j in 0..i {
            all = all.add(terms[j].0.into_expr().eq(values[j].clone()));
        }
        let (col, dir) = &terms[i];
        let beyond = match dir {
            Order::Desc => col.into_expr().lt(values[i].clone()),
            _ => col.into_expr().gt(values[i].clone()),
        };
        any = any.add(all.add(beyond));
    }
    let (first, dir) = &terms[0];
    let bound = match dir {
        Order::Desc => first.into_expr().lte(values[0].clone()),
        _ => first.into_expr().gte(values[0].clone()),
    };
    Some(Condition::all().add(bound).add(any))
}
