//! The checked query model: a typed `$filter` expression over auditEvent, the
//! orderable and selectable properties, and the canonical OData text of each.
//!
//! Invariants of a [`Filter`] built by [`super::parse_filter`]:
//! - a comparison always has the property on the left and a literal of the
//!   property's type (or `null`) on the right;
//! - a `Resource` field only appears inside a `Resources` lambda, a `Property`
//!   field or a `ModifiedProperties` lambda only inside a `Resources` lambda's
//!   predicate, a `Permission` field only inside an `ActorUserPermissions` lambda;
//!   no lambda nests inside another over the same collection. So every field
//!   reference names exactly one element: the innermost one being iterated.
//! - DateTimeOffset literals are whole 100 ns ticks: finer digits were folded into
//!   the operator at parse time.

use std::fmt;

use uuid::Uuid;

use crate::domain::{Ticks, format_graph_datetime};

/// A checked, typed boolean expression (the `$filter` of one request).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `field op value`; `value` is `Literal::Null` or of `field.field_type()`.
    Compare {
        field: Field,
        op: CompareOp,
        value: Literal,
    },
    /// `field in (v1, v2, …)`: true when `field eq v` for some `v` (so a `null` item
    /// matches a null field); an empty list matches nothing.
    In {
        field: Field,
        values: Vec<Literal>,
    },
    /// `contains/startswith/endswith(field, 'value')` on a string field.
    Text {
        func: TextFunc,
        field: Field,
        value: String,
    },
    /// `collection/any(x: predicate)`; `None` is `any()`, "the collection is non-empty".
    Any {
        collection: Collection,
        predicate: Option<Box<Filter>>,
    },
    /// `collection/all(x: predicate)`.
    All {
        collection: Collection,
        predicate: Box<Filter>,
    },
    /// A bare `true`/`false`, or a comparison decided at parse time.
    Constant(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 6] =
        [CompareOp::Eq, CompareOp::Ne, CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le];

    /// The OData keyword (`eq`, `ne`, …).
    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// ODL's `BinaryOperatorKind` name, which Graph quotes in type errors.
    pub fn kind_name(self) -> &'static str {
        match self {
            CompareOp::Eq => "Equal",
            CompareOp::Ne => "NotEqual",
            CompareOp::Gt => "GreaterThan",
            CompareOp::Ge => "GreaterThanOrEqual",
            CompareOp::Lt => "LessThan",
            CompareOp::Le => "LessThanOrEqual",
        }
    }

    /// The operator that keeps the meaning when the operands swap sides
    /// (`'x' lt p` is `p gt 'x'`).
    pub fn flipped(self) -> CompareOp {
        match self {
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            same => same,
        }
    }

    pub(crate) fn from_keyword(word: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|op| op.keyword().eq_ignore_ascii_case(word))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextFunc {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextFunc {
    pub const ALL: [TextFunc; 3] = [TextFunc::Contains, TextFunc::StartsWith, TextFunc::EndsWith];

    /// The canonical (lower-case) function name.
    pub fn name(self) -> &'static str {
        match self {
            TextFunc::Contains => "contains",
            TextFunc::StartsWith => "startswith",
            TextFunc::EndsWith => "endswith",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<TextFunc> {
        TextFunc::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// A literal value. After checking, only `Null`, `String`, `DateTime` and `Guid`
/// appear in a [`Filter`]: no auditEvent property is boolean or numeric.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Literal {
    Null,
    String(String),
    DateTime(Ticks),
    Guid(Uuid),
    Bool(bool),
    /// The number as written (`42`, `-1.5`, `1e3`).
    Number(String),
}

/// A collection a lambda can iterate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// The event's `resources`.
    Resources,
    /// The current resource's `modifiedProperties` (only inside a `Resources` lambda).
    ModifiedProperties,
    /// `actor/userPermissions`: a collection of strings.
    ActorUserPermissions,
}

impl Collection {
    /// The OData path of the collection, written with the canonical lambda variable
    /// of its parent where it has one.
    pub fn odata_path(self) -> &'static str {
        match self {
            Collection::Resources => "resources",
            Collection::ModifiedProperties => "r/modifiedProperties",
            Collection::ActorUserPermissions => "actor/userPermissions",
        }
    }

    /// The lambda variable [`Filter`]'s `Display` binds for this collection. Fixed
    /// names are unambiguous because lambdas over one collection never nest.
    pub fn variable(self) -> &'static str {
        match self {
            Collection::Resources => "r",
            Collection::ModifiedProperties => "p",
            Collection::ActorUserPermissions => "u",
        }
    }
}

/// A scalar property reachable from a `$filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Event(EventField),
    Actor(ActorField),
    /// A property of the resource the enclosing `resources` lambda is visiting.
    Resource(ResourceField),
    /// A property of the modified property the enclosing `modifiedProperties` lambda is visiting.
    Property(PropertyField),
    /// The permission string the enclosing `actor/userPermissions` lambda is visiting.
    Permission,
}

/// The Edm type of a [`Field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    String,
    DateTimeOffset,
    Guid,
}

impl FieldType {
    pub fn edm_name(self) -> &'static str {
        match self {
            FieldType::String => "Edm.String",
            FieldType::DateTimeOffset => "Edm.DateTimeOffset",
            FieldType::Guid => "Edm.Guid",
        }
    }
}

impl Field {
    pub fn field_type(&self) -> FieldType {
        match self {
            Field::Event(EventField::ActivityDateTime) => FieldType::DateTimeOffset,
            Field::Event(EventField::CorrelationId) => FieldType::Guid,
            _ => FieldType::String,
        }
    }

    /// The property's name on its declaring type (`userPrincipalName` for
    /// `actor/userPrincipalName`). `Permission` has no name of its own and answers
    /// with the collection it iterates, `userPermissions`.
    pub fn odata_name(&self) -> &'static str {
        match self {
            Field::Event(f) => f.odata_name(),
            Field::Actor(f) => f.odata_name(),
            Field::Resource(f) => f.odata_name(),
            Field::Property(f) => f.odata_name(),
            Field::Permission => "userPermissions",
        }
    }

    /// True when the field can hold `null` (everything but `id`, `activityDateTime`
    /// and `correlationId`).
    pub fn is_nullable(&self) -> bool {
        !matches!(
            self,
            Field::Event(EventField::Id | EventField::ActivityDateTime | EventField::CorrelationId)
        )
    }
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in schema order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical OData (v1.0) property name.
            pub fn odata_name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

named_enum! {
    /// The event's own scalar properties: filterable and orderable.
    EventField {
        Id => "id",
        DisplayName => "displayName",
        ComponentName => "componentName",
        Activity => "activity",
        ActivityDateTime => "activityDateTime",
        ActivityType => "activityType",
        ActivityOperationType => "activityOperationType",
        ActivityResult => "activityResult",
        CorrelationId => "correlationId",
        Category => "category",
    }
}

named_enum! {
    /// Scalar properties of `actor`. `ActorType` is both v1.0 `auditActorType` and beta `type`.
    ActorField {
        ActorType => "auditActorType",
        ApplicationId => "applicationId",
        ApplicationDisplayName => "applicationDisplayName",
        UserPrincipalName => "userPrincipalName",
        ServicePrincipalName => "servicePrincipalName",
        IpAddress => "ipAddress",
        UserId => "userId",
        RemoteTenantId => "remoteTenantId",
        RemoteUserId => "remoteUserId",
    }
}

named_enum! {
    /// Scalar properties of a resource. `ResourceType` is both `auditResourceType` and beta `type`.
    ResourceField {
        DisplayName => "displayName",
        ResourceType => "auditResourceType",
        ResourceId => "resourceId",
    }
}

named_enum! {
    /// Properties of a modified property.
    PropertyField {
        DisplayName => "displayName",
        OldValue => "oldValue",
        NewValue => "newValue",
    }
}

named_enum! {
    /// The top-level properties `$select` can name.
    SelectProperty {
        Id => "id",
        DisplayName => "displayName",
        ComponentName => "componentName",
        Actor => "actor",
        Activity => "activity",
        ActivityDateTime => "activityDateTime",
        ActivityType => "activityType",
        ActivityOperationType => "activityOperationType",
        ActivityResult => "activityResult",
        CorrelationId => "correlationId",
        Category => "category",
        Resources => "resources",
    }
}

/// One `$orderby` key. Only the event's own scalar properties sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderKey {
    pub field: EventField,
    pub descending: bool,
}

// ---------------------------------------------------------------------------------
// Canonical text. `parse_filter(&f.to_string())` gives back `f` for every filter
// `parse_filter` can produce.

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::DateTime(ticks) => f.write_str(&format_graph_datetime(ticks.to_datetime())),
            Literal::Guid(g) => write!(f, "{}", g.hyphenated()),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Number(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Event(e) => f.write_str(e.odata_name()),
            Field::Actor(a) => write!(f, "actor/{}", a.odata_name()),
            Field::Resource(r) => {
                write!(f, "{}/{}", Collection::Resources.variable(), r.odata_name())
            }
            Field::Property(p) => {
                write!(f, "{}/{}", Collection::ModifiedProperties.variable(), p.odata_name())
            }
            Field::Permission => f.write_str(Collection::ActorUserPermissions.variable()),
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `and` binds tighter than `or` and both associate to the left, so only a
            // right operand of the same operator, or an `or` under an `and`, needs
            // parentheses to come back as the same tree.
            Filter::And(l, r) => {
                write_operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                write_operand(f, l, false)?;
                f.write_str(" or ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not({inner})"),
            Filter::Compare { field, op, value } => write!(f, "{field} {op} {value}"),
            Filter::In { field, values } => {
                write!(f, "{field} in (")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Filter::Text { func, field, value } => {
                write!(f, "{}({field},{})", func.name(), Literal::String(value.clone()))
            }
            Filter::Any { collection, predicate: None } => write!(f, "{}/any()", collection.odata_path()),
            Filter::Any { collection, predicate: Some(p) } => {
                write!(f, "{}/any({}:{p})", collection.odata_path(), collection.variable())
            }
            Filter::All { collection, predicate } => {
                write!(f, "{}/all({}:{predicate})", collection.odata_path(), collection.variable())
            }
            Filter::Constant(b) => write!(f, "{b}"),
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter, parenthesise: bool) -> fmt::Result {
    if parenthesise { write!(f, "({operand})") } else { write!(f, "{operand}") }
}
