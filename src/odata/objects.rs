//! OData over the Intune workloads' objects: the query options of their lists
//! (`$filter`, `$orderby`, `$select`, `$expand`, `$top`, `$count`, `$skiptoken`)
//! bound against a [`Profile`] of the entity set, and the in-memory evaluator of
//! the filter over an object's Graph JSON.
//!
//! `$filter` uses the same lexer and parser as auditEvents; only the binder
//! differs. Intune documents no query options for these lists, and what it
//! serves is an allow-list per property (intune-workloads.md §1.4, §3.5): each
//! property names its operators, `or` joins clauses on one property only, and
//! anything else is a 400 naming what is supported. Strings compare
//! case-insensitively, as every auditgraph filter does.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::ast::{CompareOp, TextFunc};
use super::error::ODataError;
use super::options::{SystemOption, check_format, non_negative_integer, params, parse_count};
use super::parser::{Expr, LogicalOp, Path, RawLiteral, parse_expression};
use crate::domain::{Ticks, fold};

/// What a set's list supports.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The declared type, for messages (`microsoft.graph.deviceCompliancePolicy`).
    pub type_name: &'static str,
    /// Filterable properties and their operators (`eq`, `ne`, `or`, `contains`, …).
    pub filters: &'static [(&'static str, &'static [&'static str])],
    /// Whether `isof('microsoft.graph.<type>')` is allowed.
    pub isof: bool,
    /// Navigation properties `$expand` accepts.
    pub expandable: &'static [&'static str],
}

/// A bound filter over one object.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectFilter {
    And(Box<ObjectFilter>, Box<ObjectFilter>),
    Or(Box<ObjectFilter>, Box<ObjectFilter>),
    Compare {
        property: &'static str,
        op: CompareOp,
        value: Value,
    },
    Text {
        func: TextFunc,
        property: &'static str,
        value: String,
    },
    /// `isof('microsoft.graph.x')`: the object's concrete type is `x`.
    IsOf(String),
}

/// The options of one list request.
#[derive(Debug, Clone, Default)]
pub struct ObjectQuery {
    pub filter: Option<ObjectFilter>,
    /// `(property, descending)`.
    pub orderby: Vec<(String, bool)>,
    pub top: Option<u64>,
    pub skiptoken: Option<String>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<&'static str>,
    pub count: bool,
    /// Everything but `$skiptoken`, to rebuild nextLinks.
    pub passthrough: Vec<(String, String)>,
    /// The raw `$filter` and `$orderby`, which a skiptoken is bound to.
    pub shape: String,
}

impl ObjectQuery {
    pub fn parse(raw_query_string: &str, profile: &Profile) -> Result<ObjectQuery, ODataError> {
        let mut q = ObjectQuery::default();
        for (name, value) in params(raw_query_string)? {
            let Some(option) = SystemOption::from_name(&name) else {
                q.passthrough.push((name, value));
                continue;
            };
            let given = !value.trim().is_empty();
            match option {
                SystemOption::Filter if given => {
                    q.filter = Some(
                        bind(&parse_expression(&value)?, profile).map_err(ODataError::in_filter_clause)?,
                    );
                    q.shape.push_str(&value);
                }
                SystemOption::OrderBy if given => {
                    q.orderby = orderby(&value)?;
                    q.shape.push('\0');
                    q.shape.push_str(&value);
                }
                SystemOption::Top => q.top = Some(non_negative_integer(&value, "$top")?),
                SystemOption::Skip => {
                    return Err(ODataError::bad_request(
                        "The query parameter '$skip' is not supported on this list; follow @odata.nextLink.",
                    ));
                }
                SystemOption::SkipToken => {
                    q.skiptoken = Some(value);
                    continue;
                }
                SystemOption::Select if given => {
                    q.select = Some(
                        value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                    );
                }
                SystemOption::Expand if given => q.expand = expand(&value, profile)?,
                SystemOption::Count => q.count = parse_count(&value)?,
                SystemOption::Search => {
                    return Err(ODataError::bad_request("The query parameter '$search' is not supported."));
                }
                SystemOption::Format if given => check_format(&value)?,
                _ => {}
            }
            q.passthrough.push((option.name().to_owned(), value));
        }
        Ok(q)
    }
}

fn expand(value: &str, profile: &Profile) -> Result<Vec<&'static str>, ODataError> {
    let mut out = Vec::new();
    for item in value.split(',') {
        // `scheduledActionsForRule($expand=scheduledActionConfigurations)` expands both levels.
        let name = item.split('(').next().unwrap_or_default().trim();
        let known = profile.expandable.iter().find(|n| n.eq_ignore_ascii_case(name)).ok_or_else(|| {
            ODataError::bad_request(format!(
                "Could not find a navigation property named '{name}' on type '{}'. Expandable: {}.",
                profile.type_name,
                if profile.expandable.is_empty() {
                    "none".to_string()
                } else {
                    profile.expandable.join(", ")
                }
            ))
        })?;
        out.push(*known);
    }
    Ok(out)
}

fn orderby(value: &str) -> Result<Vec<(String, bool)>, ODataError> {
    value
        .split(',')
        .map(|item| {
            let mut words = item.split_whitespace();
            let name = words.next().ok_or_else(|| ODataError::bad_request("An empty $orderby item."))?;
            let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(ODataError::bad_request(format!("Unexpected '{other}' in $orderby.")));
                }
            };
            Ok((name.to_string(), descending))
        })
        .collect()
}

fn unsupported(profile: &Profile) -> String {
    let list: Vec<String> =
        profile.filters.iter().map(|(p, ops)| format!("{p} ({})", ops.join(", "))).collect();
    format!(
        "Supported filters on {}: {}{}.",
        profile.type_name,
        list.join("; "),
        if profile.isof { "; isof('microsoft.graph.<type>')" } else { "" }
    )
}

fn refuse(profile: &Profile, what: String) -> ODataError {
    ODataError::bad_request(format!("{what} is not supported. {}", unsupported(profile)))
}

fn property<'p>(
    path: &Path,
    profile: &'p Profile,
) -> Result<&'p (&'static str, &'static [&'static str]), ODataError> {
    if !path.tail.is_empty() || path.lambda.is_some() {
        return Err(refuse(profile, format!("Filtering on '{}' paths", path.head)));
    }
    profile
        .filters
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&path.head))
        .ok_or_else(|| refuse(profile, format!("Filtering by '{}'", path.head)))
}

fn literal(raw: &RawLiteral) -> Value {
    match raw {
        RawLiteral::Null => Value::Null,
        RawLiteral::Bool(b) => Value::Bool(*b),
        RawLiteral::String(s) => Value::String(s.clone()),
        RawLiteral::Guid(g) => Value::String(g.to_string()),
        RawLiteral::Number(n) => {
            n.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(n.clone()))
        }
        RawLiteral::DateTime(d) => Value::from(d.ticks.0),
        RawLiteral::Date(t) => Value::from(t.0),
    }
}

fn bind(expr: &Expr, profile: &Profile) -> Result<ObjectFilter, ODataError> {
    match expr {
        Expr::Logical { op: LogicalOp::And, left, right } => {
            Ok(ObjectFilter::And(Box::new(bind(left, profile)?), Box::new(bind(right, profile)?)))
        }
        Expr::Logical { op: LogicalOp::Or, left, right } => {
            let (l, r) = (bind(left, profile)?, bind(right, profile)?);
            match (l.single_property(), r.single_property()) {
                (Some(a), Some(b)) if a == b && allows(profile, a, "or") => {
                    Ok(ObjectFilter::Or(Box::new(l), Box::new(r)))
                }
                _ => Err(refuse(
                    profile,
                    "'or' across properties, or on a property that does not list it,".into(),
                )),
            }
        }
        Expr::Compare { op, left, right } => {
            let (Expr::Path(path), Expr::Literal(value)) = (&**left, &**right) else {
                return Err(refuse(profile, "A comparison that is not 'property op literal'".into()));
            };
            let (name, ops) = property(path, profile)?;
            if !ops.contains(&op.keyword()) {
                return Err(refuse(profile, format!("'{}' on '{name}'", op.keyword())));
            }
            Ok(ObjectFilter::Compare { property: name, op: *op, value: literal(value) })
        }
        Expr::Call { name, args } if name.eq_ignore_ascii_case("isof") && profile.isof => {
            match args.as_slice() {
                [Expr::Literal(RawLiteral::String(t))] => Ok(ObjectFilter::IsOf(
                    t.trim_start_matches('#').trim_start_matches("microsoft.graph.").to_string(),
                )),
                _ => Err(refuse(profile, "isof with these arguments".into())),
            }
        }
        Expr::Call { name, args } => {
            let func = TextFunc::ALL
                .into_iter()
                .find(|f| f.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| refuse(profile, format!("The function '{name}'")))?;
            let [Expr::Path(path), Expr::Literal(RawLiteral::String(value))] = args.as_slice() else {
                return Err(refuse(profile, format!("{name} with these arguments")));
            };
            let (prop, ops) = property(path, profile)?;
            if !ops.contains(&func.name()) {
                return Err(refuse(profile, format!("'{}' on '{prop}'", func.name())));
            }
            Ok(ObjectFilter::Text { func, property: prop, value: value.clone() })
        }
        _ => Err(refuse(profile, "This expression".into())),
    }
}

fn allows(profile: &Profile, property: &str, op: &str) -> bool {
    profile.filters.iter().any(|(p, ops)| *p == property && ops.contains(&op))
}

impl ObjectFilter {
    /// The one property a clause (or an `or` of clauses) is about.
    fn single_property(&self) -> Option<&'static str> {
        match self {
            ObjectFilter::Compare { property, .. } | ObjectFilter::Text { property, .. } => Some(property),
            ObjectFilter::Or(a, b) => a.single_property().filter(|p| Some(*p) == b.single_property()),
            _ => None,
        }
    }

    /// Whether an object (its concrete type and properties) matches.
    pub fn matches(&self, odata_type: &str, body: &Map<String, Value>) -> bool {
        match self {
            ObjectFilter::And(a, b) => a.matches(odata_type, body) && b.matches(odata_type, body),
            ObjectFilter::Or(a, b) => a.matches(odata_type, body) || b.matches(odata_type, body),
            ObjectFilter::IsOf(t) => t.eq_ignore_ascii_case(odata_type),
            ObjectFilter::Text { func, property, value } => match body.get(*property).and_then(Value::as_str)
            {
                None => false,
                Some(s) => {
                    let (s, v) = (fold(s), fold(value));
                    match func {
                        TextFunc::Contains => s.contains(&v),
                        TextFunc::StartsWith => s.starts_with(&v),
                        TextFunc::EndsWith => s.ends_with(&v),
                    }
                }
            },
            ObjectFilter::Compare { property, op, value } => {
                let ordering = compare(body.get(*property).unwrap_or(&Value::Null), value);
                match op {
                    CompareOp::Eq => ordering == Some(Ordering::Equal),
                    CompareOp::Ne => ordering != Some(Ordering::Equal),
                    CompareOp::Lt => ordering == Some(Ordering::Less),
                    CompareOp::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                    CompareOp::Gt => ordering == Some(Ordering::Greater),
                    CompareOp::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
                }
            }
        }
    }
}

/// Orders a stored value against a literal: strings by folded text (or as
/// timestamps against a DateTimeOffset literal's ticks), booleans, numbers;
/// `None` when they are not comparable (a null against a value).
pub fn compare(stored: &Value, literal: &Value) -> Option<Ordering> {
    match (stored, literal) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::String(s), Value::Number(n)) => {
            let at = crate::domain::graph::parse_datetime(s)?;
            Some(Ticks::from_datetime(at).0.cmp(&n.as_i64()?))
        }
        (Value::String(a), Value::String(b)) => Some(fold(a).cmp(&fold(b))),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Value::Number(b)) => a.as_i64()?.partial_cmp(&b.as_i64()?),
        _ => None,
    }
}
