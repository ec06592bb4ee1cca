//! `$filter` → SQL: the one translation of a checked [`Filter`] into a sea-query
//! condition, mirroring `odata::eval` exactly (its module doc states the semantics).
//!
//! - Strings compare on the folded `*_ci` columns; those are NOT NULL ('' for NULL),
//!   so null checks read the original column. Comparisons are two-valued, like eval.
//! - Text functions are three-valued (NULL on a null field), as SQL's LIKE on NULL.
//! - The actor lives in its own table: a predicate false on a null field becomes
//!   `EXISTS (actor row AND p)`, one true on null `NOT EXISTS (actor row AND NOT p)`,
//!   so an event without actor behaves as an actor whose every field is null.
//! - Lambdas over resources become `seq IN (SELECT event_seq …)`: resource ids are
//!   selective, so the IN list drives the plan. A lambda over the actor's
//!   permissions picks the matching permission sets (a few dozen rows), then
//!   probes each event's actor for one of them, as actor fields do.
//! - User text reaches SQL only as bound values.

use entities::{
    audit_actor as actor, audit_event as event, audit_permission_set as permission_set,
    audit_property as property, audit_resource as resource,
};
use sea_orm::sea_query::{
    CaseStatement, Condition, Expr, ExprTrait, Func, IntoColumnRef, LikeExpr, Query, SelectStatement,
    SimpleExpr,
};

use crate::domain::fold;
use crate::odata::{
    ActorField, Collection, CompareOp, EventField, Field, Filter, Literal, PropertyField, ResourceField,
    TextFunc,
};

/// The escape character of LIKE patterns: not a backslash, which MySQL's
/// NO_BACKSLASH_ESCAPES mode would break.
const LIKE_ESCAPE: char = '!';

/// The SQL condition selecting exactly the events `filter` matches.
pub fn condition(filter: &Filter) -> Condition {
    Condition::all().add(expr(filter))
}

fn expr(filter: &Filter) -> SimpleExpr {
    match filter {
        Filter::And(a, b) => expr(a).and(expr(b)),
        Filter::Or(a, b) => expr(a).or(expr(b)),
        Filter::Not(inner) => expr(inner).not(),
        Filter::Constant(value) => constant(*value),
        Filter::Compare { field, op, value } => {
            on_field(*field, |c| compare(c, *op, value), compare_null_truth(*op, value))
        }
        Filter::In { field, values } => {
            on_field(*field, |c| any_of(c, values), values.contains(&Literal::Null))
        }
        Filter::Text { func, field, value } => text(*field, *func, value),
        Filter::Any { collection, predicate } => any(*collection, predicate.as_deref()),
        Filter::All { collection, predicate } => {
            // all(p) = not any(not p is true): an element where p is false or null.
            let not_true = coalesce_false(expr(predicate)).not();
            any_where(*collection, Some(not_true)).not()
        }
    }
}

fn constant(value: bool) -> SimpleExpr {
    Expr::cust(if value { "1 = 1" } else { "1 = 0" })
}

/// Where a field's value lives: the original (nullable) column, and the column
/// comparisons and orderings read.
struct Columns {
    original: SimpleExpr,
    compared: SimpleExpr,
    nullable: bool,
}

fn col(c: impl IntoColumnRef) -> SimpleExpr {
    Expr::col(c)
}

fn columns_of(field: Field) -> Columns {
    use ActorField as A;
    use EventField as E;
    use PropertyField as P;
    use ResourceField as R;
    let pair = |original: SimpleExpr, compared: SimpleExpr| Columns {
        original,
        compared,
        nullable: field.is_nullable(),
    };
    match field {
        Field::Event(f) => {
            let e = |c: event::Column| col((event::Entity, c));
            match f {
                E::Id => pair(e(event::Column::Id), e(event::Column::IdCi)),
                E::DisplayName => pair(e(event::Column::DisplayName), e(event::Column::DisplayNameCi)),
                E::ComponentName => pair(e(event::Column::ComponentName), e(event::Column::ComponentNameCi)),
                E::Activity => pair(e(event::Column::Activity), e(event::Column::ActivityCi)),
                E::ActivityDateTime => pair(e(event::Column::ActivityTicks), e(event::Column::ActivityTicks)),
                E::ActivityType => pair(e(event::Column::ActivityType), e(event::Column::ActivityTypeCi)),
                E::ActivityOperationType => {
                    pair(e(event::Column::ActivityOperationType), e(event::Column::ActivityOperationTypeCi))
                }
                E::ActivityResult => {
                    pair(e(event::Column::ActivityResult), e(event::Column::ActivityResultCi))
                }
                E::CorrelationId => pair(e(event::Column::CorrelationId), e(event::Column::CorrelationId)),
                E::Category => pair(e(event::Column::Category), e(event::Column::CategoryCi)),
            }
        }
        Field::Actor(f) => {
            let a = |c: actor::Column| col((actor::Entity, c));
            use actor::Column as C;
            let (o, c) = match f {
                A::ActorType => (C::ActorType, C::ActorTypeCi),
                A::ApplicationId => (C::ApplicationId, C::ApplicationIdCi),
                A::ApplicationDisplayName => (C::ApplicationDisplayName, C::ApplicationDisplayNameCi),
                A::UserPrincipalName => (C::UserPrincipalName, C::UserPrincipalNameCi),
                A::ServicePrincipalName => (C::ServicePrincipalName, C::ServicePrincipalNameCi),
                A::IpAddress => (C::IpAddress, C::IpAddressCi),
                A::UserId => (C::UserId, C::UserIdCi),
                A::RemoteTenantId => (C::RemoteTenantId, C::RemoteTenantIdCi),
                A::RemoteUserId => (C::RemoteUserId, C::RemoteUserIdCi),
            };
            pair(a(o), a(c))
        }
        Field::Resource(f) => {
            let r = |c: resource::Column| col((resource::Entity, c));
            use resource::Column as C;
            match f {
                R::DisplayName => pair(r(C::DisplayName), r(C::DisplayNameCi)),
                R::ResourceType => pair(r(C::ResourceType), r(C::ResourceTypeCi)),
                R::ResourceId => pair(r(C::ResourceId), r(C::ResourceIdCi)),
            }
        }
        Field::Property(f) => {
            let p = |c: property::Column| col((property::Entity, c));
            use property::Column as C;
            match f {
                P::DisplayName => pair(p(C::DisplayName), p(C::DisplayNameCi)),
                P::OldValue => pair(p(C::OldValue), p(C::OldValueCi)),
                P::NewValue => pair(p(C::NewValue), p(C::NewValueCi)),
            }
        }
        Field::Permission => Columns {
            original: col((permission_set::Entity, permission_set::Column::Permission)),
            compared: col((permission_set::Entity, permission_set::Column::PermissionCi)),
            nullable: false,
        },
    }
}

/// A literal as its column stores it.
fn stored(value: &Literal) -> Option<SimpleExpr> {
    match value {
        Literal::Null => None,
        Literal::String(s) => Some(Expr::val(fold(s))),
        Literal::DateTime(t) => Some(Expr::val(t.0)),
        Literal::Guid(g) => Some(Expr::val(g.hyphenated().to_string())),
        Literal::Bool(b) => Some(Expr::val(*b)),
        Literal::Number(n) => Some(Expr::val(n.clone())),
    }
}

/// `field op value`, two-valued (never NULL), as eval defines it.
fn compare(c: &Columns, op: CompareOp, value: &Literal) -> SimpleExpr {
    let Some(v) = stored(value) else {
        return match op {
            CompareOp::Eq if c.nullable => c.original.clone().is_null(),
            CompareOp::Eq => constant(false),
            CompareOp::Ne if c.nullable => c.original.clone().is_not_null(),
            CompareOp::Ne => constant(true),
            _ => constant(false),
        };
    };
    // A null field's folded column holds ''; guard only where '' would pass.
    let null_would_pass = c.nullable
        && match value {
            Literal::String(s) => {
                let v = fold(s);
                match op {
                    CompareOp::Eq | CompareOp::Ne | CompareOp::Ge => v.is_empty(),
                    CompareOp::Gt => false,
                    CompareOp::Lt => !v.is_empty(),
                    CompareOp::Le => true,
                }
            }
            _ => true,
        };
    let present = |e: SimpleExpr| if null_would_pass { c.original.clone().is_not_null().and(e) } else { e };
    let compared = c.compared.clone();
    match op {
        CompareOp::Eq => present(compared.eq(v)),
        CompareOp::Ne => present(compared.eq(v)).not(),
        CompareOp::Gt => present(compared.gt(v)),
        CompareOp::Ge => present(compared.gte(v)),
        CompareOp::Lt => present(compared.lt(v)),
        CompareOp::Le => present(compared.lte(v)),
    }
}

/// `field in (…)`: any of the equalities, as one `IN (…)` of bound values. (An OR
/// chain of equalities nests one level per item: SQLite refused it past ~1,000
/// items, "Expression tree is too large", and building or dropping it overflowed
/// the stack a little further.) The items that need more than an equality, `null`
/// and, on a nullable field, a string that folds to '' (the folded column's
/// stand-in for NULL), keep their own guarded comparison beside it.
fn any_of(c: &Columns, values: &[Literal]) -> SimpleExpr {
    let mut listed = Vec::with_capacity(values.len());
    let mut guarded: Vec<SimpleExpr> = Vec::new();
    let mut special: Vec<&Literal> = Vec::new();
    for value in values {
        let plain = match value {
            Literal::Null => false,
            Literal::String(s) => !(c.nullable && fold(s).is_empty()),
            _ => !c.nullable,
        };
        match stored(value) {
            Some(v) if plain => listed.push(v),
            _ if !special.contains(&value) => {
                special.push(value);
                guarded.push(compare(c, CompareOp::Eq, value));
            }
            _ => {}
        }
    }
    let list = (!listed.is_empty()).then(|| c.compared.clone().is_in(listed));
    list.into_iter().chain(guarded).reduce(|a, b| a.or(b)).unwrap_or_else(|| constant(false))
}

/// What `field op value` gives on a null field (eval: `eq null` and `ne v` are true).
fn compare_null_truth(op: CompareOp, value: &Literal) -> bool {
    match value {
        Literal::Null => op == CompareOp::Eq,
        _ => op == CompareOp::Ne,
    }
}

/// Applies a two-valued predicate to a field. Actor fields sit in another table:
/// an event without an actor must answer as if every actor field were null.
fn on_field(field: Field, predicate: impl Fn(&Columns) -> SimpleExpr, true_on_null: bool) -> SimpleExpr {
    let columns = columns_of(field);
    let p = predicate(&columns);
    match field {
        Field::Actor(_) if true_on_null => Expr::exists(actor_of_event(p.not())).not(),
        Field::Actor(_) => Expr::exists(actor_of_event(p)),
        _ => p,
    }
}

fn event_seq_in(subquery: SelectStatement) -> SimpleExpr {
    col((event::Entity, event::Column::Seq)).in_subquery(subquery)
}

/// The event's actor row, if `predicate` holds for it. Correlated (EXISTS) rather
/// than `id IN (…)`: actor values such as a UPN are common, so walking events in
/// the requested order and probing the actor's primary key finds a page quickly,
/// where an IN list would collect every match and sort it.
fn actor_of_event(predicate: SimpleExpr) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(actor::Entity)
        .and_where(col((actor::Entity, actor::Column::EventSeq)).equals((event::Entity, event::Column::Seq)))
        .and_where(predicate)
        .to_owned()
}

fn escape_like(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        if matches!(ch, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(ch);
    }
    out
}

/// `contains/startswith/endswith`: NULL on a null field, as eval defines it.
fn text(field: Field, func: TextFunc, value: &str) -> SimpleExpr {
    let escaped = escape_like(&fold(value));
    let pattern = match func {
        TextFunc::Contains => format!("%{escaped}%"),
        TextFunc::StartsWith => format!("{escaped}%"),
        TextFunc::EndsWith => format!("%{escaped}"),
    };
    let like = LikeExpr::new(pattern).escape(LIKE_ESCAPE);
    let c = columns_of(field);
    match field {
        // The actor's value, or NULL when there is no actor or the field is null.
        Field::Actor(_) => {
            let value = Query::select()
                .expr(c.compared.clone())
                .from(actor::Entity)
                .and_where(
                    col((actor::Entity, actor::Column::EventSeq)).equals((event::Entity, event::Column::Seq)),
                )
                .and_where(c.original.clone().is_not_null())
                .to_owned();
            SimpleExpr::SubQuery(None, Box::new(value.into())).like(like)
        }
        _ if c.nullable => CaseStatement::new()
            .case(c.original.clone().is_null(), Expr::val(Option::<bool>::None))
            .finally(c.compared.clone().like(like))
            .into(),
        _ => c.compared.clone().like(like),
    }
}

/// `p` with NULL read as false.
fn coalesce_false(p: SimpleExpr) -> SimpleExpr {
    Func::coalesce([p, constant(false)]).into()
}

fn any(collection: Collection, predicate: Option<&Filter>) -> SimpleExpr {
    any_where(collection, predicate.map(expr))
}

/// True when some element of `collection` satisfies `predicate` (any element when None).
fn any_where(collection: Collection, predicate: Option<SimpleExpr>) -> SimpleExpr {
    let mut sub = Query::select();
    match collection {
        Collection::Resources => {
            sub.column((resource::Entity, resource::Column::EventSeq)).from(resource::Entity);
        }
        Collection::ActorUserPermissions => {
            sub.column((permission_set::Entity, permission_set::Column::PermissionSet))
                .from(permission_set::Entity);
            if let Some(p) = predicate {
                sub.and_where(p);
            }
            let named = col((actor::Entity, actor::Column::PermissionSet)).in_subquery(sub.to_owned());
            return Expr::exists(actor_of_event(named));
        }
        Collection::ModifiedProperties => {
            // Correlated to the resource the enclosing lambda is visiting.
            sub.expr(Expr::val(1))
                .from(property::Entity)
                .and_where(
                    col((property::Entity, property::Column::EventSeq))
                        .equals((resource::Entity, resource::Column::EventSeq)),
                )
                .and_where(
                    col((property::Entity, property::Column::ResourceOrdinal))
                        .equals((resource::Entity, resource::Column::Ordinal)),
                );
            if let Some(p) = predicate {
                sub.and_where(p);
            }
            return Expr::exists(sub.to_owned());
        }
    }
    if let Some(p) = predicate {
        sub.and_where(p);
    }
    event_seq_in(sub.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::parse_filter;
    use sea_orm::sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder};

    fn sql(filter: &str) -> [String; 3] {
        let f = parse_filter(filter).expect("valid filter");
        let mut q = Query::select();
        q.column((event::Entity, event::Column::Id)).from(event::Entity).cond_where(condition(&f));
        [q.to_string(SqliteQueryBuilder), q.to_string(PostgresQueryBuilder), q.to_string(MysqlQueryBuilder)]
    }

    #[test]
    fn snapshots_of_generated_sql() {
        for filter in [
            "category eq 'Device' and activityDateTime ge 2024-01-01T00:00:00Z",
            "category ne 'Application'",
            "actor/userPrincipalName eq 'A@contoso.com'",
            "actor/userPrincipalName eq null",
            "resources/any(r:r/resourceId eq 'X')",
            "resources/any(r:r/modifiedProperties/any(p:p/displayName eq 'Limit'))",
            "resources/all(r:contains(r/displayName,'50%_off!'))",
            "not(contains(actor/ipAddress,'10.'))",
            "correlationId eq 52effe71-fe71-52ef-71fe-ef5271feef52",
            "category in ('Device','Role')",
            "actor/userPermissions/any(p:p eq '*')",
            "actor/userPrincipalName in ('A@contoso.com',null,'','b@contoso.com',null)",
        ] {
            let [sqlite, pg, mysql] = sql(filter);
            insta::assert_snapshot!(format!(
                "{filter}\n\nsqlite:\n{sqlite}\n\npostgres:\n{pg}\n\nmysql:\n{mysql}"
            ));
        }
    }
}
