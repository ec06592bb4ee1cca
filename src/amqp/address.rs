//! Link addresses and consumer selector filters (live-routing spec §2.3, §2.7): what node a link's source or
//! target names, and where a consumer asked to start reading. Pure parsing, no I/O.
//!
//! Python puts a full URL in addresses (`amqps://host:port/<hub>/...`, the scheme is `amqps` even without
//! TLS), JS a relative path, so both are reduced to the path first. Keywords (`ConsumerGroups`, `Partitions`)
//! match case-insensitively; names are returned as written and compared by the caller.

/// The node a link address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Cbs,
    Management,
    /// A producer target: the hub, or one of its partitions.
    Hub {
        hub: String,
        partition: Option<String>,
    },
    /// A consumer source.
    Consumer {
        hub: String,
        group: String,
        partition: String,
    },
}

/// Strips `scheme://authority`, then one leading `/`.
pub(crate) fn normalize(address: &str) -> &str {
    let path = match address.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => address,
    };
    path.strip_prefix('/').unwrap_or(path)
}

/// `$cbs`, `$management`, `<hub>`, `<hub>/Partitions/<id>` or `<hub>/ConsumerGroups/<cg>/Partitions/<id>`;
/// `None` for anything else, including empty segments and hub names starting with `$` (reserved for nodes).
pub(crate) fn parse(address: &str) -> Option<Node> {
    let path = normalize(address);
    if path.eq_ignore_ascii_case("$cbs") {
        return Some(Node::Cbs);
    }
    if path.eq_ignore_ascii_case("$management") {
        return Some(Node::Management);
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) || segments[0].starts_with('$') {
        return None;
    }
    let keyword = |i: usize, word: &str| segments[i].eq_ignore_ascii_case(word);
    match segments[..] {
        [hub] => Some(Node::Hub { hub: hub.to_owned(), partition: None }),
        [hub, _, id] if keyword(1, "Partitions") => {
            Some(Node::Hub { hub: hub.to_owned(), partition: Some(id.to_owned()) })
        }
        [hub, _, group, _, id] if keyword(1, "ConsumerGroups") && keyword(3, "Partitions") => {
            Some(Node::Consumer { hub: hub.to_owned(), group: group.to_owned(), partition: id.to_owned() })
        }
        _ => None,
    }
}

/// Where a consumer starts. `inclusive` is `>=` (the named event is delivered too), otherwise `>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Earliest,
    /// Only events enqueued after the link attached.
    Latest,
    Offset {
        offset: i64,
        inclusive: bool,
    },
    Sequence {
        seq: i64,
        inclusive: bool,
    },
    EnqueuedTime {
        unix_ms: i64,
        inclusive: bool,
    },
}

const OFFSET: &str = "amqp.annotation.x-opt-offset";
const SEQUENCE: &str = "amqp.annotation.x-opt-sequence-number";
const ENQUEUED_TIME: &str = "amqp.annotation.x-opt-enqueued-time";

/// Parses an `apache.org:selector-filter:string` value such as `amqp.annotation.x-opt-offset > '-1'`.
/// The error text is sent to the client as the AMQP error description, so it names what was expected.
pub(crate) fn parse_selector(filter: &str) -> Result<Start, String> {
    let unsupported = || {
        format!(
            "Unsupported selector filter \"{filter}\": expected amqp.annotation.x-opt-offset, \
             amqp.annotation.x-opt-sequence-number or amqp.annotation.x-opt-enqueued-time, \
             then > or >=, then a value"
        )
    };
    let (name, rest) = filter.split_once('>').ok_or_else(unsupported)?;
    let name = name.trim();
    let (inclusive, value) = match rest.strip_prefix('=') {
        Some(value) => (true, value),
        None => (false, rest),
    };
    let value = value.trim();
    let value = unquote(value).ok_or_else(|| {
        format!("Selector filter \"{filter}\": the value {value} is neither 'quoted' nor plain")
    })?;
    let number = |what: &str| {
        value
            .parse::<i64>()
            .map_err(|_| format!("Selector filter \"{filter}\": {what} '{value}' is not a number"))
    };

    if name.eq_ignore_ascii_case(OFFSET) {
        if value.eq_ignore_ascii_case("@latest") {
            return Ok(Start::Latest);
        }
        match number("the offset")? {
            -1 => Ok(Start::Earliest),
            offset if offset < -1 => {
                Err(format!("Selector filter \"{filter}\": the offset must be -1, @latest or at least 0"))
            }
            offset => Ok(Start::Offset { offset, inclusive }),
        }
    } else if name.eq_ignore_ascii_case(SEQUENCE) {
        Ok(Start::Sequence { seq: number("the sequence number")?, inclusive })
    } else if name.eq_ignore_ascii_case(ENQUEUED_TIME) {
        Ok(Start::EnqueuedTime { unix_ms: number("the enqueued time (unix ms)")?, inclusive })
    } else {
        Err(unsupported())
    }
}

/// Removes one pair of single quotes; the fe2o3 example sends the value unquoted (`> @latest`).
fn unquote(value: &str) -> Option<&str> {
    match (value.strip_prefix('\''), value.strip_suffix('\'')) {
        (Some(_), Some(_)) if value.len() >= 2 => Some(value[1..value.len() - 1].trim()),
        (None, None) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(hub: &str, partition: Option<&str>) -> Option<Node> {
        Some(Node::Hub { hub: hub.into(), partition: partition.map(Into::into) })
    }

    fn consumer(hub: &str, group: &str, partition: &str) -> Option<Node> {
        Some(Node::Consumer { hub: hub.into(), group: group.into(), partition: partition.into() })
    }

    #[test]
    fn normalize_strips_scheme_authority_and_slash() {
        assert_eq!(normalize("amqps://localhost:5672/hub/Partitions/0"), "hub/Partitions/0");
        assert_eq!(normalize("amqps://localhost/hub"), "hub");
        assert_eq!(normalize("/hub"), "hub");
        assert_eq!(normalize("hub"), "hub");
        assert_eq!(normalize("$cbs"), "$cbs");
        assert_eq!(normalize("amqp://localhost"), "");
    }

    #[test]
    fn python_url_addresses() {
        assert_eq!(
            parse("amqps://localhost:5672/insights-logs-auditlogs/ConsumerGroups/$Default/Partitions/0"),
            consumer("insights-logs-auditlogs", "$Default", "0")
        );
        assert_eq!(parse("amqps://localhost/insights-logs-auditlogs"), hub("insights-logs-auditlogs", None));
        assert_eq!(parse("amqps://localhost:5673/hub/Partitions/2"), hub("hub", Some("2")));
    }

    #[test]
    fn js_relative_addresses() {
        assert_eq!(parse("MyHub/ConsumerGroups/$default/Partitions/3"), consumer("MyHub", "$default", "3"));
        assert_eq!(parse("MyHub"), hub("MyHub", None));
        assert_eq!(parse("MyHub/Partitions/1"), hub("MyHub", Some("1")));
    }

    #[test]
    fn keywords_are_case_insensitive_names_kept_as_written() {
        assert_eq!(parse("Hub/consumergroups/CG/PARTITIONS/0"), consumer("Hub", "CG", "0"));
        assert_eq!(parse("Hub/partitions/0"), hub("Hub", Some("0")));
    }

    #[test]
    fn nodes() {
        assert_eq!(parse("$cbs"), Some(Node::Cbs));
        assert_eq!(parse("$management"), Some(Node::Management));
        assert_eq!(parse("amqps://localhost/$management"), Some(Node::Management));
        assert_eq!(parse("$CBS"), Some(Node::Cbs));
    }

    #[test]
    fn anything_else_is_refused() {
        for address in [
            "",
            "amqps://localhost",
            "hub/",
            "hub//Partitions/0",
            "hub/Partitions",
            "hub/Partitions/",
            "hub/Publishers/device1",
            "hub/ConsumerGroups/cg",
            "hub/ConsumerGroups/cg/Partitions",
            "hub/ConsumerGroups/cg/Partitions/0/extra",
            "$other",
            "$management/Partitions/0",
        ] {
            assert_eq!(parse(address), None, "{address:?}");
        }
    }

    #[test]
    fn python_selectors() {
        // azure-eventhub `event_position_selector`: offset strings, int → sequence number, datetime → ms.
        assert_eq!(parse_selector("amqp.annotation.x-opt-offset > '-1'"), Ok(Start::Earliest));
        assert_eq!(parse_selector("amqp.annotation.x-opt-offset > '@latest'"), Ok(Start::Latest));
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-offset > '1234'"),
            Ok(Start::Offset { offset: 1234, inclusive: false })
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-offset >= '1234'"),
            Ok(Start::Offset { offset: 1234, inclusive: true })
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-sequence-number > '41'"),
            Ok(Start::Sequence { seq: 41, inclusive: false })
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-enqueued-time > '1733468400000'"),
            Ok(Start::EnqueuedTime { unix_ms: 1733468400000, inclusive: false })
        );
    }

    #[test]
    fn js_selectors() {
        // @azure/event-hubs `getEventPositionFilter`.
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-sequence-number > '-1'"),
            Ok(Start::Sequence { seq: -1, inclusive: false })
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-sequence-number >= '7'"),
            Ok(Start::Sequence { seq: 7, inclusive: true })
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-enqueued-time >= '1733468400000'"),
            Ok(Start::EnqueuedTime { unix_ms: 1733468400000, inclusive: true })
        );
    }

    #[test]
    fn unquoted_spacing_and_case_variants() {
        assert_eq!(parse_selector("amqp.annotation.x-opt-offset > @latest"), Ok(Start::Latest));
        assert_eq!(parse_selector("  AMQP.Annotation.X-Opt-Offset>'-1'  "), Ok(Start::Earliest));
        assert_eq!(parse_selector("amqp.annotation.x-opt-offset>=-1"), Ok(Start::Earliest));
        assert_eq!(parse_selector("amqp.annotation.x-opt-offset > ' @LATEST '"), Ok(Start::Latest));
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-sequence-number\t>=\t12"),
            Ok(Start::Sequence { seq: 12, inclusive: true })
        );
    }

    #[test]
    fn errors_say_what_was_wrong() {
        let err = |f: &str| parse_selector(f).expect_err(f);
        assert!(err("amqp.annotation.x-opt-offset = '5'").contains("then > or >="));
        assert!(err("amqp.annotation.x-opt-offset < '5'").contains("Unsupported selector filter"));
        assert!(err("amqp.annotation.x-opt-partition-key > 'a'").contains("Unsupported selector filter"));
        assert!(err("amqp.annotation.x-opt-offset > 'abc'").contains("is not a number"));
        assert!(err("amqp.annotation.x-opt-offset > '5").contains("neither 'quoted' nor plain"));
        assert!(err("amqp.annotation.x-opt-offset > '-2'").contains("at least 0"));
        assert!(err("amqp.annotation.x-opt-sequence-number > ''").contains("is not a number"));
        assert!(err("amqp.annotation.x-opt-offset >> '5'").contains("the value > '5' is neither"));
        assert!(err("").contains("Unsupported selector filter"));
    }
}
