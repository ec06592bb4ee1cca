//! Graph URL paths below `/{version}/`, resolved the lenient way Graph does:
//! case-insensitive segments, `microsoft.graph.`-qualified and bare function names,
//! with or without `()`, and OData key syntax `auditEvents('id')`.

use percent_encoding::percent_decode_str;

use crate::domain::graph::ApiVersion;
use crate::domain::refuse_nul;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/{version}/`: the OData service document.
    ServiceDocument,
    Metadata,
    /// `/{version}/deviceManagement`: the singleton itself.
    DeviceManagement,
    Events,
    Count,
    Event(String),
    Categories,
    /// `None` when the function was called without its `category` argument.
    ActivityTypes(Option<String>),
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

pub fn version(segment: &str) -> Result<ApiVersion, ApiError> {
    match decode(segment).to_ascii_lowercase().as_str() {
        "v1.0" => Ok(ApiVersion::V1),
        "beta" => Ok(ApiVersion::Beta),
        other => Err(ApiError::InvalidVersion(other.to_string())),
    }
}

/// The segments, percent-decoded. Ids and function arguments are text a store
/// compares: NUL-free, as everywhere.
pub fn decoded(raw_segments: &[&str]) -> Result<Vec<String>, ApiError> {
    let segments: Vec<String> = raw_segments.iter().map(|s| decode(s)).collect();
    for segment in &segments {
        refuse_nul(segment, || "A segment of the request URL".into()).map_err(ApiError::BadRequest)?;
    }
    Ok(segments)
}

/// Resolves the segments after the version.
pub fn resolve(raw_segments: &[&str]) -> Result<Target, ApiError> {
    let segments = decoded(raw_segments)?;
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let unknown = |i: usize| ApiError::UnknownSegment(segments.get(i).cloned().unwrap_or_default());
    match lower.first().map(String::as_str) {
        None => return Ok(Target::ServiceDocument),
        Some("$metadata") if segments.len() == 1 => return Ok(Target::Metadata),
        Some("devicemanagement") => {}
        _ => return Err(unknown(0)),
    }
    let Some(collection) = lower.get(1) else {
        return Ok(Target::DeviceManagement);
    };
    let key = if collection == "auditevents" {
        None
    } else if let Some(key) = key_syntax(&segments[1]) {
        Some(key)
    } else {
        return Err(unknown(1));
    };
    match (key, &segments[2..]) {
        (Some(key), []) => Ok(Target::Event(key)),
        (Some(_), _) => Err(unknown(2)),
        (None, []) => Ok(Target::Events),
        (None, [one]) => Ok(function_or_key(one)),
        (None, _) => Err(unknown(3)),
    }
}

/// `auditEvents('id')` → `id`.
fn key_syntax(segment: &str) -> Option<String> {
    let lower = segment.to_ascii_lowercase();
    if !lower.starts_with("auditevents(") || !segment.ends_with(')') {
        return None;
    }
    let inner = &segment["auditEvents(".len()..segment.len() - 1];
    let inner = inner.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

fn function_or_key(segment: &str) -> Target {
    let lower = segment.to_ascii_lowercase();
    let name = lower.strip_prefix("microsoft.graph.").unwrap_or(&lower);
    if segment == "$count" {
        return Target::Count;
    }
    if name == "getauditcategories" || name == "getauditcategories()" {
        return Target::Categories;
    }
    if name == "getauditactivitytypes" || name == "getauditactivitytypes()" {
        return Target::ActivityTypes(None);
    }
    if name.starts_with("getauditactivitytypes(") && segment.ends_with(')') {
        let open = segment.find('(').unwrap_or(0);
        let args = &segment[open + 1..segment.len() - 1];
        return Target::ActivityTypes(category_argument(args));
    }
    Target::Event(segment.to_string())
}

/// Reads `category='X'` (quotes doubled inside), tolerating spaces around `=`.
fn category_argument(args: &str) -> Option<String> {
    let (name, value) = args.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("category") {
        return None;
    }
    let value = value.trim();
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Result<Target, String> {
        // As the router splits: empty segments are dropped.
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        resolve(&segments).map_err(|e| e.to_string())
    }

    #[test]
    fn resolves_every_spelling_clients_use() {
        assert_eq!(target("deviceManagement/auditEvents"), Ok(Target::Events));
        assert_eq!(target("DeviceManagement/AuditEvents"), Ok(Target::Events));
        assert_eq!(target("deviceManagement/auditEvents/$count"), Ok(Target::Count));
        for f in [
            "getAuditCategories",
            "getAuditCategories()",
            "microsoft.graph.getAuditCategories()",
            "microsoft.graph.getAuditCategories",
        ] {
            assert_eq!(target(&format!("deviceManagement/auditEvents/{f}")), Ok(Target::Categories), "{f}");
        }
        for f in [
            "getAuditActivityTypes(category='Device')",
            "microsoft.graph.getAuditActivityTypes(category='Device')",
            "getAuditActivityTypes(category=%27Device%27)",
        ] {
            assert_eq!(
                target(&format!("deviceManagement/auditEvents/{f}")),
                Ok(Target::ActivityTypes(Some("Device".into()))),
                "{f}"
            );
        }
        assert_eq!(
            target("deviceManagement/auditEvents/getAuditActivityTypes(category='O''Neil')"),
            Ok(Target::ActivityTypes(Some("O'Neil".into())))
        );
        assert_eq!(target("deviceManagement/auditEvents/abc-1"), Ok(Target::Event("abc-1".into())));
        assert_eq!(target("deviceManagement/auditEvents('abc-1')"), Ok(Target::Event("abc-1".into())));
        assert_eq!(target("$metadata"), Ok(Target::Metadata));
        assert_eq!(target(""), Ok(Target::ServiceDocument));
        assert_eq!(target("DeviceManagement"), Ok(Target::DeviceManagement));
    }

    #[test]
    fn names_the_unknown_segment() {
        assert_eq!(
            target("deviceManagement/auditEvents/abc/foo"),
            Err("Resource not found for the segment 'foo'.".into())
        );
        assert_eq!(target("users"), Err("Resource not found for the segment 'users'.".into()));
        assert_eq!(
            target("deviceManagement/managedDevices"),
            Err("Resource not found for the segment 'managedDevices'.".into())
        );
        assert_eq!(version("v2.0").map_err(|e| e.to_string()), Err("Invalid version: v2.0".into()));
    }
}
