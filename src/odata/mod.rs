//! OData for `GET /deviceManagement/auditEvents`, as pure functions: query-string
//! decoding, a hand-written `$filter` lexer and precedence-climbing parser, a binder
//! that type-checks against an explicit auditEvent schema, the in-memory evaluator
//! that defines the semantics, and `$orderby`/`$select`/`$top`/… parsing.
//!
//! Pipeline for `$filter`: `lexer` → `parser` (untyped syntax tree) → `check`
//! (names, types, literal normalisation) → [`Filter`] → [`eval::matches`] or the
//! store's SQL translator. The semantics both must share are documented in
//! [`eval`] (null handling, string folding, ordering and its `id` tiebreak) and in
//! `check.rs` (operand normalisation, sub-100 ns DateTimeOffset literals).
//!
//! No HTTP, no database, no async: every error is an [`ODataError`] carrying the
//! exact Graph message and status.
//!
//! `objects` binds the same `$filter` syntax against the Intune workloads' lists.

mod ast;
mod check;
mod error;
pub mod eval;
mod lexer;
mod literal;
pub mod objects;
mod options;
mod parser;
mod schema;

#[cfg(test)]
mod tests;

pub use ast::{
    ActorField, Collection, CompareOp, EventField, Field, FieldType, Filter, Literal, OrderKey,
    PropertyField, ResourceField, SelectProperty, TextFunc,
};
pub use error::ODataError;
pub use options::{QueryOptions, parse_orderby, parse_select};

/// Parses and type-checks a `$filter` value (already percent-decoded). Every error
/// message starts with `Invalid filter clause: `, as Graph's do.
pub fn parse_filter(text: &str) -> Result<Filter, ODataError> {
    parser::parse_expression(text).and_then(|expr| check::check(&expr)).map_err(ODataError::in_filter_clause)
}
