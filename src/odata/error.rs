//! The one error type of the OData layer. Every message is the complete text Graph
//! puts in `error.message`, so the REST layer wraps it in the envelope unchanged.

/// A rejected query: the Graph `error.message` text and the HTTP status to answer with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{message}")]
pub struct ODataError {
    /// The complete Graph `error.message`, e.g. `Invalid filter clause: Could not find a
    /// property named 'createdDateTime' on type 'microsoft.graph.auditEvent'.`
    pub message: String,
    /// 400 for everything except an unsupported `$format`, which is 406.
    pub status: u16,
}

impl ODataError {
    pub const BAD_REQUEST: u16 = 400;
    pub const NOT_ACCEPTABLE: u16 = 406;

    pub fn bad_request(message: impl Into<String>) -> Self {
        ODataError { message: message.into(), status: Self::BAD_REQUEST }
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        ODataError { message: message.into(), status: Self::NOT_ACCEPTABLE }
    }

    /// Graph prefixes every `$filter` error with this text; `$orderby` and `$select`
    /// errors carry the bare ODL text.
    pub(crate) fn in_filter_clause(self) -> Self {
        ODataError { message: format!("Invalid filter clause: {}", self.message), ..self }
    }

    // ODL's wording for the messages shared by the parser and the binder. Positions are
    // zero-based character offsets into `text`, as ODL reports them.

    pub(crate) fn syntax(position: usize, text: &str) -> Self {
        Self::bad_request(format!("Syntax error at position {position} in '{text}'."))
    }

    pub(crate) fn expression_expected(position: usize, text: &str) -> Self {
        Self::bad_request(format!("Expression expected at position {position} in '{text}'."))
    }

    pub(crate) fn property_not_found(name: &str, type_name: &str) -> Self {
        Self::bad_request(format!("Could not find a property named '{name}' on type '{type_name}'."))
    }

    pub(crate) fn too_deep() -> Self {
        Self::bad_request("Recursion depth exceeded allowed limit.")
    }

    pub(crate) fn too_many_values() -> Self {
        Self::bad_request(format!(
            "The expression holds more than {} values (each comparison operand and each 'in' item counts); split the query.",
            super::parser::MAX_VALUES
        ))
    }
}
