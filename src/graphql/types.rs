//! The GraphQL shape of the event model. The object types are the domain's own
//! (`domain::AuditEvent` and its parts derive `SimpleObject`: Graph's type names,
//! camelCase fields, descriptions from their doc comments); this module adds the
//! two scalars they are served with, as Graph writes them.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::domain::format_graph_datetime;
use crate::domain::graph::{GraphDateTime, GraphGuid, datetime_expected, parse_datetime};

/// An instant in UTC at 100 ns precision, in Graph's wire form
/// (`2024-07-22T22:17:09.7552025Z`). Input accepts any RFC 3339 offset and fraction.
#[Scalar(name = "DateTime")]
impl ScalarType for GraphDateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => parse_datetime(text)
                .map(GraphDateTime)
                .ok_or_else(|| InputValueError::custom(datetime_expected(text))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format_graph_datetime(self.0))
    }
}

/// A GUID in its hyphenated form (`21e86a8c-3010-46a8-86b5-4580e432ff52`).
#[Scalar(name = "UUID")]
impl ScalarType for GraphGuid {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => uuid::Uuid::parse_str(text)
                .map(GraphGuid)
                .map_err(|_| InputValueError::custom(format!("'{text}' is not an Edm.Guid."))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.hyphenated().to_string())
    }
}
