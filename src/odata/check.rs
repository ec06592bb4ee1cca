//! Binder and type checker: resolves the names of a parsed `$filter` against the
//! auditEvent schema, types its literals, and produces a checked [`Filter`].
//!
//! Decisions the SQL translator inherits through the [`Filter`] it receives:
//! - comparisons are normalised to `field op literal` (`'x' lt p` → `p gt 'x'`);
//! - a DateTimeOffset literal with non-zero digits below 100 ns is folded into the
//!   operator, so every remaining literal is a whole tick: the exact instant `t` lies
//!   strictly between ticks `T` and `T+1`, and for whole-tick values `v`:
//!   `v gt t` ⇔ `v gt T`, `v le t` ⇔ `v le T`, `v ge t` ⇔ `v ge T+1`,
//!   `v lt t` ⇔ `v lt T+1`, `v eq t` is false and `v ne t` is true;
//! - a date-only literal against a DateTimeOffset is midnight UTC.
//!
//! Lambdas: a variable is in scope in its predicate and in every lambda nested in
//! it; a bare name that is not a variable is a property of the event (`$it`). A
//! lambda may not nest inside another over the same collection, which keeps every
//! field reference in the checked tree unambiguous.

use super::ast::{Collection, CompareOp, Field, FieldType, Filter, Literal, TextFunc};
use super::error::ODataError;
use super::literal::number_edm_type;
use super::parser::{Expr, Lambda, LambdaKind, LogicalOp, Path, RawLiteral};
use super::schema::{self, Member, Owner};
use crate::domain::Ticks;

/// Binds a parsed `$filter` expression. Messages are ODL's bare texts (no
/// "Invalid filter clause: " prefix).
pub(crate) fn check(expr: &Expr) -> Result<Filter, ODataError> {
    match Binder::default().bind(expr)? {
        Bound::Bool(filter) => Ok(filter),
        _ => Err(ODataError::bad_request("The $filter expression must evaluate to a single boolean value.")),
    }
}

/// What a sub-expression denotes once its names are resolved.
#[derive(Debug)]
enum Bound {
    Bool(Filter),
    Field(Field),
    Literal(RawLiteral),
    /// The event itself (`$it`), its actor, a resource or a modified property.
    Structured(Owner),
    Collection(Collection),
}

impl Bound {
    fn type_name(&self) -> &'static str {
        match self {
            Bound::Bool(_) => "Edm.Boolean",
            Bound::Field(field) => field.field_type().edm_name(),
            Bound::Literal(literal) => raw_literal_type(literal),
            Bound::Structured(owner) => owner.type_name(),
            Bound::Collection(collection) => schema::collection_type_name(*collection),
        }
    }
}

fn raw_literal_type(literal: &RawLiteral) -> &'static str {
    match literal {
        RawLiteral::Null => "null",
        RawLiteral::Bool(_) => "Edm.Boolean",
        RawLiteral::String(_) => "Edm.String",
        RawLiteral::DateTime(_) => "Edm.DateTimeOffset",
        RawLiteral::Date(_) => "Edm.Date",
        RawLiteral::Guid(_) => "Edm.Guid",
        RawLiteral::Number(n) => number_edm_type(n),
    }
}

/// A literal converted to a field's type.
enum Typed {
    Exact(Literal),
    /// A DateTimeOffset strictly between this tick and the next.
    BetweenTicks(Ticks),
}

/// Converts `literal` to `field`'s type, or `None` when the types are incompatible.
fn typed_literal(field: Field, literal: &RawLiteral) -> Option<Typed> {
    Some(match (field.field_type(), literal) {
        (_, RawLiteral::Null) => Typed::Exact(Literal::Null),
        (FieldType::String, RawLiteral::String(s)) => Typed::Exact(Literal::String(s.clone())),
        (FieldType::DateTimeOffset, RawLiteral::DateTime(d)) if d.sub_tick => Typed::BetweenTicks(d.ticks),
        (FieldType::DateTimeOffset, RawLiteral::DateTime(d)) => Typed::Exact(Literal::DateTime(d.ticks)),
        (FieldType::DateTimeOffset, RawLiteral::Date(ticks)) => Typed::Exact(Literal::DateTime(*ticks)),
        (FieldType::Guid, RawLiteral::Guid(g)) => Typed::Exact(Literal::Guid(*g)),
        _ => return None,
    })
}

fn incompatible(left: &str, right: &str, kind: &str) -> ODataError {
    ODataError::bad_request(format!(
        "A binary operator with incompatible types was detected. Found operand types '{left}' and '{right}' for operator kind '{kind}'."
    ))
}

fn not_single_value(kind: &str) -> ODataError {
    ODataError::bad_request(format!(
        "The operand for a binary operator '{kind}' is not a single value. Binary operators require both operands to be single values."
    ))
}

/// For valid OData this emulator does not implement (e.g. comparing two properties).
fn unsupported(message: &str) -> ODataError {
    ODataError::bad_request(message)
}

const UNSUPPORTED_COMPARISON: &str =
    "A comparison must have a property on one side and a literal value on the other.";

/// OData canonical functions that are valid but not implemented here.
const OTHER_CANONICAL_FUNCTIONS: &[&str] = &[
    "concat",
    "indexof",
    "length",
    "substring",
    "tolower",
    "toupper",
    "trim",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "fractionalseconds",
    "totalseconds",
    "date",
    "time",
    "totaloffsetminutes",
    "now",
    "mindatetime",
    "maxdatetime",
    "round",
    "floor",
    "ceiling",
    "cast",
    "isof",
    "matchespattern",
    "hassubset",
    "hassubsequence",
    "case",
];

#[derive(Default)]
struct Binder {
    /// Lambda variables in scope, innermost last, with the collection each iterates.
    scope: Vec<(String, Collection)>,
}

impl Binder {
    fn bind(&mut self, expr: &Expr) -> Result<Bound, ODataError> {
        match expr {
            Expr::Logical { op, left, right } => self.logical(*op, left, right),
            Expr::Compare { op, left, right } => {
                let left = self.bind(left)?;
                let right = self.bind(right)?;
                compare(*op, left, right)
            }
            Expr::Not(operand) => match self.bind(operand)? {
                Bound::Bool(filter) => Ok(Bound::Bool(Filter::Not(Box::new(filter)))),
                Bound::Collection(_) => Err(ODataError::bad_request(
                    "The operand for a unary operator 'Not' is not a single value. Unary operators require the operand to be a single value.",
                )),
                other => Err(ODataError::bad_request(format!(
                    "A unary operator with an incompatible type was detected. Found operand type '{}' for operator kind 'Not'.",
                    other.type_name()
                ))),
            },
            Expr::In { left, items } => self.in_list(left, items),
            Expr::Has { .. } => Err(unsupported(
                "The 'has' operator is not supported: auditEvent has no enumeration properties.",
            )),
            Expr::Literal(RawLiteral::Bool(b)) => Ok(Bound::Bool(Filter::Constant(*b))),
            Expr::Literal(literal) => Ok(Bound::Literal(literal.clone())),
            Expr::Path(path) => self.path(path),
            Expr::Call { name, args } => self.call(name, args),
        }
    }

    fn logical(&mut self, op: LogicalOp, left: &Expr, right: &Expr) -> Result<Bound, ODataError> {
        let (left, right) = (self.bind(left)?, self.bind(right)?);
        match (left, right) {
            (Bound::Bool(l), Bound::Bool(r)) => {
                let (l, r) = (Box::new(l), Box::new(r));
                Ok(Bound::Bool(match op {
                    LogicalOp::And => Filter::And(l, r),
                    LogicalOp::Or => Filter::Or(l, r),
                }))
            }
            (Bound::Collection(_), _) | (_, Bound::Collection(_)) => Err(not_single_value(op.kind_name())),
            (l, r) => Err(incompatible(l.type_name(), r.type_name(), op.kind_name())),
        }
    }

    fn in_list(&mut self, left: &Expr, items: &[Expr]) -> Result<Bound, ODataError> {
        let field = match self.bind(left)? {
            Bound::Field(field) => field,
            Bound::Collection(_) => {
                return Err(ODataError::bad_request(
                    "The left operand for the IN operation is not a single value. IN operations require the left operand to be a single value and the right operand to be a collection value.",
                ));
            }
            _ => return Err(unsupported("The left operand of 'in' must be a property.")),
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let Expr::Literal(literal) = item else {
                return Err(unsupported("The right operand of 'in' must be a list of literal values."));
            };
            match typed_literal(field, literal) {
                Some(Typed::Exact(value)) => values.push(value),
                // `eq` with an instant between two ticks matches nothing: drop it.
                Some(Typed::BetweenTicks(_)) => {}
                None => {
                    return Err(ODataError::bad_request(format!(
                        "An instance of InNode can only be created where the item types of the right operand '{}' and the left operand '{}' can be compared.",
                        raw_literal_type(literal),
                        field.field_type().edm_name()
                    )));
                }
            }
        }
        Ok(Bound::Bool(Filter::In { field, values }))
    }

    fn path(&mut self, path: &Path) -> Result<Bound, ODataError> {
        let first = &path.head;
        let mut node = if let Some((_, collection)) = self.scope.iter().rev().find(|(name, _)| name == first)
        {
            element_of(*collection)
        } else if first == "$it" {
            Bound::Structured(Owner::Event)
        } else {
            member(Owner::Event, first)?
        };
        for segment in &path.tail {
            node = match node {
                Bound::Structured(owner) => member(owner, segment)?,
                Bound::Collection(_) => {
                    return Err(ODataError::bad_request(format!(
                        "The parent value for a property access of a property '{segment}' is not a single value. Property access can only be applied to a single value."
                    )));
                }
                other => return Err(ODataError::property_not_found(segment, other.type_name())),
            };
        }
        match &path.lambda {
            None => Ok(node),
            Some(lambda) => self.lambda(node, lambda),
        }
    }

    fn lambda(&mut self, node: Bound, lambda: &Lambda) -> Result<Bound, ODataError> {
        let Bound::Collection(collection) = node else {
            return Err(ODataError::bad_request("Any/All may only be used following a collection."));
        };
        let (Some(variable), Some(body)) = (&lambda.variable, &lambda.body) else {
            return Ok(Bound::Bool(Filter::Any { collection, predicate: None }));
        };
        if variable == "$it" || self.scope.iter().any(|(name, _)| name == variable) {
            return Err(ODataError::bad_request(format!(
                "The range variable '{variable}' has already been declared."
            )));
        }
        if self.scope.iter().any(|(_, c)| *c == collection) {
            return Err(unsupported(
                "A lambda inside another lambda over the same collection is not supported.",
            ));
        }
        self.scope.push((variable.clone(), collection));
        let bound = self.bind(body);
        self.scope.pop();
        let Bound::Bool(predicate) = bound? else {
            return Err(ODataError::bad_request(
                "The Any/All query expression must evaluate to a single boolean value.",
            ));
        };
        Ok(Bound::Bool(match lambda.kind {
            LambdaKind::Any => Filter::Any { collection, predicate: Some(Box::new(predicate)) },
            LambdaKind::All => Filter::All { collection, predicate: Box::new(predicate) },
        }))
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> Result<Bound, ODataError> {
        let Some(func) = TextFunc::from_name(name) else {
            let lower = name.to_ascii_lowercase();
            return Err(if OTHER_CANONICAL_FUNCTIONS.contains(&lower.as_str()) {
                unsupported(&format!("The function '{name}' is not supported."))
            } else {
                ODataError::bad_request(format!(
                    "An unknown function with name '{name}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
                ))
            });
        };
        let no_signature = || {
            ODataError::bad_request(format!(
                "No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {}(Edm.String Nullable=true, Edm.String Nullable=true).",
                func.name()
            ))
        };
        let [subject, pattern] = args else {
            return Err(no_signature());
        };
        let subject = self.bind(subject)?;
        let pattern = self.bind(pattern)?;
        let is_string = |b: &Bound| match b {
            Bound::Field(f) => f.field_type() == FieldType::String,
            Bound::Literal(l) => matches!(l, RawLiteral::String(_) | RawLiteral::Null),
            _ => false,
        };
        if !is_string(&subject) || !is_string(&pattern) {
            return Err(no_signature());
        }
        match (subject, pattern) {
            (Bound::Field(field), Bound::Literal(RawLiteral::String(value))) => {
                Ok(Bound::Bool(Filter::Text { func, field, value }))
            }
            (Bound::Field(_), Bound::Literal(RawLiteral::Null)) => {
                Err(unsupported(&format!("A null argument to '{}' is not supported.", func.name())))
            }
            _ => Err(unsupported(&format!(
                "The first argument of '{}' must be a property and the second a string literal.",
                func.name()
            ))),
        }
    }
}

fn element_of(collection: Collection) -> Bound {
    match collection {
        Collection::Resources => Bound::Structured(Owner::Resource),
        Collection::ModifiedProperties => Bound::Structured(Owner::Property),
        Collection::ActorUserPermissions => Bound::Field(Field::Permission),
    }
}

fn member(owner: Owner, name: &str) -> Result<Bound, ODataError> {
    match schema::lookup(owner, name) {
        Some(Member::Scalar(field)) => Ok(Bound::Field(field)),
        Some(Member::Actor) => Ok(Bound::Structured(Owner::Actor)),
        Some(Member::Collection(collection)) => Ok(Bound::Collection(collection)),
        None => Err(ODataError::property_not_found(name, owner.type_name())),
    }
}

fn compare(op: CompareOp, left: Bound, right: Bound) -> Result<Bound, ODataError> {
    let kind = op.kind_name();
    match (left, right) {
        (Bound::Collection(_), _) | (_, Bound::Collection(_)) => Err(not_single_value(kind)),
        (Bound::Field(field), Bound::Literal(literal)) => {
            let typed = typed_literal(field, &literal).ok_or_else(|| {
                incompatible(field.field_type().edm_name(), raw_literal_type(&literal), kind)
            })?;
            Ok(Bound::Bool(field_comparison(field, op, typed)))
        }
        (Bound::Literal(literal), Bound::Field(field)) => {
            let typed = typed_literal(field, &literal).ok_or_else(|| {
                incompatible(raw_literal_type(&literal), field.field_type().edm_name(), kind)
            })?;
            Ok(Bound::Bool(field_comparison(field, op.flipped(), typed)))
        }
        (left, right) => {
            let (l, r) = (left.type_name(), right.type_name());
            if comparable_types(l, r) {
                Err(unsupported(UNSUPPORTED_COMPARISON))
            } else {
                Err(incompatible(l, r, kind))
            }
        }
    }
}

/// Whether ODL would accept comparing values of these types, which decides between
/// its type error and our "not supported" for shapes we do not implement.
fn comparable_types(left: &str, right: &str) -> bool {
    const NUMERIC: &[&str] = &["Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double"];
    const DATES: &[&str] = &["Edm.DateTimeOffset", "Edm.Date"];
    left == right
        || left == "null"
        || right == "null"
        || (NUMERIC.contains(&left) && NUMERIC.contains(&right))
        || (DATES.contains(&left) && DATES.contains(&right))
}

fn field_comparison(field: Field, op: CompareOp, value: Typed) -> Filter {
    match value {
        Typed::Exact(value) => Filter::Compare { field, op, value },
        Typed::BetweenTicks(below) => {
            let above = Ticks(below.0.saturating_add(1));
            let (op, ticks) = match op {
                CompareOp::Eq => return Filter::Constant(false),
                CompareOp::Ne => return Filter::Constant(true),
                CompareOp::Gt | CompareOp::Le => (op, below),
                CompareOp::Ge | CompareOp::Lt => (op, above),
            };
            Filter::Compare { field, op, value: Literal::DateTime(ticks) }
        }
    }
}
