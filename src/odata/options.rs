//! The query string of `GET /deviceManagement/auditEvents`: decoding (odata.md §1),
//! option names (§2) and the options other than `$filter` (§4).
//!
//! Decisions:
//! - Split on `&`, then on the first `=`; `+` is a space and `%2B` a plus, in names
//!   and values. Names match case-insensitively, with or without `$` (so
//!   `%24skipToken` and `filter` are system options); `$`-options we do not know and
//!   other parameters are ignored, but still carried in `passthrough`.
//! - An empty `$filter`, `$orderby`, `$select`, `$expand` or `$format` means "not given".
//! - `$top=0` is accepted and means an empty page with no nextLink (the
//!   `$top=0&$count=true` idiom); `$top`/`$skip` are not clamped here.
//! - `$select=*` expands to every property, in schema order.
//! - `$search` and a non-empty `$expand` are 400; `$format` other than JSON is 406.

use std::collections::HashSet;

use percent_encoding::percent_decode_str;

use super::ast::{EventField, OrderKey, SelectProperty};
use super::error::ODataError;
use super::lexer::TokenKind;
use super::parser::Parser;
use super::schema::{self, EVENT_TYPE, Member, Owner};
use super::{Filter, parse_filter};

/// The parsed query options of one list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOptions {
    pub filter: Option<Filter>,
    /// As requested; empty means the default order (the store applies
    /// `activityDateTime desc`).
    pub orderby: Vec<OrderKey>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    /// Opaque and untouched: the paging module decodes it.
    pub skiptoken: Option<String>,
    /// In requested order, deduplicated.
    pub select: Option<Vec<SelectProperty>>,
    pub count: bool,
    /// Every parameter as received, decoded, in original order, without
    /// `$skiptoken`: system options under their canonical name (`$filter`), other
    /// parameters under their decoded name. Used to rebuild nextLinks.
    pub passthrough: Vec<(String, String)>,
}

/// The decoded `(name, value)` pairs of a query string, in order; a system
/// option given twice is refused, as ODL refuses it before reading any value.
pub(crate) fn params(raw_query_string: &str) -> Result<Vec<(String, String)>, ODataError> {
    let raw = raw_query_string.strip_prefix('?').unwrap_or(raw_query_string);
    let params: Vec<(String, String)> = raw
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect();
    let mut seen = HashSet::new();
    for (name, _) in &params {
        if let Some(option) = SystemOption::from_name(name)
            && !seen.insert(option)
        {
            return Err(ODataError::bad_request(format!(
                "Query option '{}' was specified more than once, but it must be specified at most once.",
                option.name()
            )));
        }
    }
    Ok(params)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SystemOption {
    Filter,
    OrderBy,
    Top,
    Skip,
    SkipToken,
    Select,
    Count,
    Search,
    Expand,
    Format,
}

impl SystemOption {
    const ALL: [SystemOption; 10] = [
        SystemOption::Filter,
        SystemOption::OrderBy,
        SystemOption::Top,
        SystemOption::Skip,
        SystemOption::SkipToken,
        SystemOption::Select,
        SystemOption::Count,
        SystemOption::Search,
        SystemOption::Expand,
        SystemOption::Format,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            SystemOption::Filter => "$filter",
            SystemOption::OrderBy => "$orderby",
            SystemOption::Top => "$top",
            SystemOption::Skip => "$skip",
            SystemOption::SkipToken => "$skiptoken",
            SystemOption::Select => "$select",
            SystemOption::Count => "$count",
            SystemOption::Search => "$search",
            SystemOption::Expand => "$expand",
            SystemOption::Format => "$format",
        }
    }

    /// `$top`, `$TOP` and bare `top` alike.
    pub(crate) fn from_name(name: &str) -> Option<SystemOption> {
        let bare = name.strip_prefix('$').unwrap_or(name);
        SystemOption::ALL.into_iter().find(|option| option.name()[1..].eq_ignore_ascii_case(bare))
    }
}

/// Form-style decoding: `+` is a space, then percent-escapes.
fn decode(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " ")).decode_utf8_lossy().into_owned()
}

impl QueryOptions {
    /// Parses a raw query string (with or without the leading `?`).
    pub fn parse(raw_query_string: &str) -> Result<QueryOptions, ODataError> {
        let params = params(raw_query_string)?;
        let mut options = QueryOptions {
            filter: None,
            orderby: Vec::new(),
            top: None,
            skip: None,
            skiptoken: None,
            select: None,
            count: false,
            passthrough: Vec::new(),
        };
        for (name, value) in params {
            let Some(option) = SystemOption::from_name(&name) else {
                options.passthrough.push((name, value));
                continue;
            };
            let given = !value.trim().is_empty();
            match option {
                SystemOption::Filter if given => options.filter = Some(parse_filter(&value)?),
                SystemOption::OrderBy => options.orderby = parse_orderby(&value)?,
                SystemOption::Top => options.top = Some(non_negative_integer(&value, "$top")?),
                SystemOption::Skip => options.skip = Some(non_negative_integer(&value, "$skip")?),
                SystemOption::SkipToken => {
                    options.skiptoken = Some(value);
                    continue;
                }
                SystemOption::Select if given => options.select = Some(parse_select(&value)?),
                SystemOption::Count => options.count = parse_count(&value)?,
                SystemOption::Search => {
                    return Err(ODataError::bad_request("The query parameter '$search' is not supported."));
                }
                SystemOption::Expand if given => return Err(expand_error(&value)),
                SystemOption::Format if given => check_format(&value)?,
                SystemOption::Filter | SystemOption::Select | SystemOption::Expand | SystemOption::Format => {
                }
            }
            options.passthrough.push((option.name().to_owned(), value));
        }
        Ok(options)
    }
}

/// `1*DIGIT` within Edm.Int64, as ODL reads `$top` and `$skip` (into a `long`).
/// The bound matters beyond fidelity: every backend takes OFFSET as a signed
/// 64-bit integer, and a `$skip` of 2^63 or more failed converting to it.
pub(crate) fn non_negative_integer(value: &str, option: &str) -> Result<u64, ODataError> {
    let parsed = if value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<i64>().ok().map(|n| n.unsigned_abs())
    } else {
        None
    };
    parsed.ok_or_else(|| {
        ODataError::bad_request(format!(
            "Invalid value '{value}' for {option} query option found. The {option} query option requires a non-negative integer value."
        ))
    })
}

pub(crate) fn parse_count(value: &str) -> Result<bool, ODataError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ODataError::bad_request(format!(
            "Invalid value '{value}' for $count query option found. Valid values are 'true, false'."
        )))
    }
}

/// auditEvent has no navigation property, so every `$expand` names something that
/// cannot be expanded.
fn expand_error(value: &str) -> ODataError {
    let first = value.split([',', '(', '/', ';']).next().unwrap_or_default().trim();
    match schema::lookup(Owner::Event, first) {
        Some(_) => ODataError::bad_request(format!(
            "Property '{first}' on type '{EVENT_TYPE}' is not a navigation property or complex property. Only navigation properties can be expanded."
        )),
        None => ODataError::property_not_found(first, EVENT_TYPE),
    }
}

/// `json` or an `application/json` media type (with parameters); anything else is 406.
pub(crate) fn check_format(value: &str) -> Result<(), ODataError> {
    let media_type = value.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case("json") || media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ODataError::not_acceptable(format!(
            "The requested format '{value}' is not supported. Supported formats: 'json', 'application/json'."
        )))
    }
}

/// Reads `a/b/c` from the parser; errors quote the text being parsed.
fn path_of(parser: &mut Parser<'_>) -> Result<Vec<String>, ODataError> {
    let mut segments = Vec::new();
    loop {
        let token = parser.current()?;
        let TokenKind::Identifier(name) = &token.kind else {
            return Err(ODataError::syntax(token.end, parser.text()));
        };
        segments.push(name.clone());
        parser.advance();
        if parser.current()?.kind != TokenKind::Slash {
            return Ok(segments);
        }
        parser.advance();
    }
}

/// After an item: `,` (consumed; returns true) or the end (returns false).
fn next_item(parser: &mut Parser<'_>) -> Result<bool, ODataError> {
    let token = parser.current()?;
    match token.kind {
        TokenKind::Comma => {
            parser.advance();
            Ok(true)
        }
        TokenKind::End => Ok(false),
        _ => Err(ODataError::syntax(token.end, parser.text())),
    }
}

/// Parses a `$orderby` value: `property [asc|desc]` items separated by commas.
/// Only the event's own scalar properties sort; an empty value is no ordering.
pub fn parse_orderby(text: &str) -> Result<Vec<OrderKey>, ODataError> {
    let mut keys: Vec<OrderKey> = Vec::new();
    if text.trim().is_empty() {
        return Ok(keys);
    }
    let mut parser = Parser::new(text);
    loop {
        let path = path_of(&mut parser)?;
        let field = orderable(&path)?;
        let mut descending = false;
        if let TokenKind::Identifier(word) = &parser.current()?.kind {
            if word.eq_ignore_ascii_case("desc") {
                descending = true;
            } else if !word.eq_ignore_ascii_case("asc") {
                let end = parser.current()?.end;
                return Err(ODataError::syntax(end, text));
            }
            parser.advance();
        }
        if keys.iter().any(|key| key.field == field) {
            return Err(ODataError::bad_request(format!(
                "Duplicate property named '{}' is not supported in '$orderby'.",
                field.odata_name()
            )));
        }
        keys.push(OrderKey { field, descending });
        if !next_item(&mut parser)? {
            return Ok(keys);
        }
    }
}

fn orderable(path: &[String]) -> Result<EventField, ODataError> {
    let not_sortable = || {
        ODataError::bad_request(format!(
            "The property '{}' cannot be used in the $orderby query option.",
            path.join("/")
        ))
    };
    let (first, rest) = path.split_first().ok_or_else(not_sortable)?;
    match schema::lookup(Owner::Event, first) {
        None => Err(ODataError::property_not_found(first, EVENT_TYPE)),
        Some(Member::Scalar(super::Field::Event(field))) if rest.is_empty() => Ok(field),
        Some(Member::Actor) if !rest.is_empty() => match schema::lookup(Owner::Actor, &rest[0]) {
            None => Err(ODataError::property_not_found(&rest[0], Owner::Actor.type_name())),
            Some(_) => Err(not_sortable()),
        },
        Some(_) => Err(not_sortable()),
    }
}

/// Parses a `$select` value: top-level property names (or `*`) separated by commas,
/// deduplicated in first-mention order.
pub fn parse_select(text: &str) -> Result<Vec<SelectProperty>, ODataError> {
    let mut selected: Vec<SelectProperty> = Vec::new();
    let mut add = |property: SelectProperty| {
        if !selected.contains(&property) {
            selected.push(property);
        }
    };
    let mut parser = Parser::new(text);
    loop {
        if parser.current()?.kind == TokenKind::Star {
            parser.advance();
            SelectProperty::ALL.iter().copied().for_each(&mut add);
        } else {
            let path = path_of(&mut parser)?;
            add(selectable(&path)?);
        }
        if !next_item(&mut parser)? {
            return Ok(selected);
        }
    }
}

fn selectable(path: &[String]) -> Result<SelectProperty, ODataError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(ODataError::property_not_found("", EVENT_TYPE));
    };
    let property = SelectProperty::ALL
        .iter()
        .copied()
        .find(|p| p.odata_name().eq_ignore_ascii_case(first))
        .ok_or_else(|| ODataError::property_not_found(first, EVENT_TYPE))?;
    if rest.is_empty() {
        Ok(property)
    } else {
        Err(ODataError::bad_request(format!(
            "Selecting '{}' is not supported; select '{}' instead.",
            path.join("/"),
            property.odata_name()
        )))
    }
}
