//! Import: loads what users actually hold (Graph list responses, JSON arrays,
//! NDJSON events, Azure Monitor records) into the store.
//!
//! Memory stays constant whatever the input size: a small incremental scanner
//! walks the JSON structure and hands over one record at a time (the raw bytes of
//! one array element or one top-level object), which serde then parses. Even a
//! 1 GB single Graph page, whose records all sit in one `"value"` array, is never
//! held whole. Parsing runs on a blocking thread and feeds parts of
//! [`PART`] events to the writer through a short channel, so reading and writing
//! overlap, and the writer adds each part to an open transaction
//! ([`Recorder::bulk_create`]), committing every `batch_size` events: memory holds
//! a few parts, never a whole batch. Idempotent on the event id, so importing a
//! file twice adds nothing.
//!
//! Malformed records are reported with their line and byte offset and skipped. A
//! strict import validates the whole input in a first pass (see [`pass`] without
//! a recorder) and writes nothing unless every record is valid. A truncated input
//! is an error naming the offset; otherwise the complete records before it are kept.

mod scanner;

use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;
use tokio::sync::mpsc;

pub use scanner::ScanError;
use scanner::{Container, Record, Scanned, Scanner};

use crate::audit::Recorder;
use crate::domain::AuditEvent;
use crate::domain::graph::parse_event;
use crate::domain::monitor::{is_record, parse_record};

/// Rejections reported one by one; beyond this only the count is.
pub const MAX_LISTED_REJECTIONS: u64 = 100;

/// What an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// Detect from the content: Graph pages, arrays, NDJSON events or records.
    Auto,
    /// Graph list responses: one or many `{"@odata.context":…,"value":[…]}` pages.
    Graph,
    /// One or many JSON arrays of auditEvent objects.
    JsonArray,
    /// One auditEvent object per line.
    Ndjson,
    /// Azure Monitor records: JSON lines, or `{"records":[…]}` messages.
    ResourceLog,
}

/// How a pass reads.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub format: ImportFormat,
    /// Stop at the first malformed record.
    pub strict: bool,
    /// Events per write transaction.
    pub batch_size: usize,
}

/// Hears each listed rejection ("record at line L (byte B): why"), from the parser's thread.
pub type OnRejected = Arc<dyn Fn(&str) + Send + Sync>;

/// What one pass over the input did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub inserted: u64,
    pub existing: u64,
    /// Valid records read (inserted + existing when writing).
    pub accepted: u64,
    pub rejected: u64,
    /// The first rejection, for `--strict`.
    pub first_rejection: Option<String>,
    /// A fatal error: truncation, broken structure, unreadable input, wrong format.
    pub error: Option<ScanError>,
    pub writing: bool,
}

impl Outcome {
    /// What stops a strict import, if anything.
    pub fn failure(&self) -> Option<String> {
        match (&self.error, &self.first_rejection) {
            (Some(e), _) => Some(e.to_string()),
            (None, Some(r)) => Some(format!("rejected {r}")),
            (None, None) => None,
        }
    }

    /// The closing line of a pass.
    pub fn report(&self) -> String {
        if self.writing {
            format!(
                "imported {} events, skipped {} already present, rejected {} malformed records",
                self.inserted, self.existing, self.rejected
            )
        } else {
            format!("checked {} valid records, rejected {} malformed records", self.accepted, self.rejected)
        }
    }
}

/// Events the parser hands the writer at a time, so that a transaction's worth
/// (`batch_size`, 20,000 by default), and the next one queued behind it, are never
/// held whole (README, Benchmarks: import memory).
pub const PART: usize = 1_000;

/// A part from the parser thread, and how far into the input it reached.
struct Batch {
    events: Vec<AuditEvent>,
    offset: u64,
}

/// One pass over `reader`: parses on a blocking thread and, with a recorder,
/// writes batch by batch (without one, only validates). `on_read` hears how many
/// bytes of input were consumed so far; `on_rejected` each of the first
/// [`MAX_LISTED_REJECTIONS`] malformed records, as it is found.
pub async fn pass(
    reader: Box<dyn Read + Send>,
    options: &Options,
    recorder: Option<&Recorder>,
    on_read: impl Fn(u64),
    on_rejected: OnRejected,
) -> anyhow::Result<Outcome> {
    // Two parts waiting while one is written: enough to keep the writer busy.
    let (tx, mut rx) = mpsc::channel::<Batch>(2);
    let options = *options;
    let parser = tokio::task::spawn_blocking(move || parse_all(reader, &options, tx, on_rejected));
    let mut outcome = Outcome { writing: recorder.is_some(), ..Outcome::default() };
    let (mut open, mut in_open, mut reached) = (None, 0, 0);
    while let Some(part) = rx.recv().await {
        reached = part.offset;
        let Some(recorder) = recorder else {
            on_read(reached);
            continue;
        };
        let batch = match &mut open {
            Some(batch) => batch,
            None => open.insert(recorder.bulk_create().await.context("cannot begin a batch")?),
        };
        in_open += part.events.len();
        let written = batch.add(part.events).await.context("cannot write a batch")?;
        outcome.inserted += written.inserted;
        outcome.existing += written.existing;
        if in_open >= options.batch_size
            && let Some(batch) = open.take()
        {
            batch.commit().await.context("cannot commit a batch")?;
            in_open = 0;
            on_read(reached);
        }
    }
    if let Some(batch) = open {
        batch.commit().await.context("cannot commit a batch")?;
        on_read(reached);
    }
    let parsed = parser.await.context("the parser thread failed")?;
    outcome.accepted = parsed.accepted;
    outcome.rejected = parsed.rejected;
    outcome.first_rejection = parsed.first_rejection;
    outcome.error = parsed.error;
    Ok(outcome)
}

#[derive(Default)]
struct Parsed {
    accepted: u64,
    rejected: u64,
    first_rejection: Option<String>,
    error: Option<ScanError>,
}

/// Reads the whole input, sending valid events in batches; stops at the first
/// rejection when strict, and at any fatal error.
fn parse_all(
    reader: Box<dyn Read + Send>,
    options: &Options,
    tx: mpsc::Sender<Batch>,
    on_rejected: OnRejected,
) -> Parsed {
    let Options { format, strict, batch_size } = *options;
    let mut scanner = match format {
        ImportFormat::Ndjson => Scanner::line_delimited(reader),
        _ => Scanner::new(reader),
    };
    let mut parsed = Parsed::default();
    let part = PART.min(batch_size);
    let mut batch = Vec::with_capacity(part);
    loop {
        let (line, offset, result) = match scanner.next_record() {
            Ok(None) => break,
            Err(e) => {
                parsed.error = Some(e);
                break;
            }
            Ok(Some(Scanned::Malformed { line, offset, reason })) => (line, offset, Err(reason)),
            Ok(Some(Scanned::Record(record))) => match convert(format, &record) {
                Err(Conversion::Fatal(message)) => {
                    parsed.error = Some(ScanError::Format(message));
                    break;
                }
                Err(Conversion::Reject(reason)) => (record.line, record.offset, Err(reason)),
                Ok(event) => (record.line, record.offset, Ok(event)),
            },
        };
        match result {
            Ok(event) => {
                parsed.accepted += 1;
                batch.push(event);
                if batch.len() >= part {
                    let events = std::mem::replace(&mut batch, Vec::with_capacity(part));
                    if tx.blocking_send(Batch { events, offset: scanner.offset }).is_err() {
                        return parsed; // the writer failed and reports why
                    }
                }
            }
            Err(reason) => {
                parsed.rejected += 1;
                let text = format!("record at line {line} (byte {offset}): {reason}");
                if parsed.rejected <= MAX_LISTED_REJECTIONS {
                    on_rejected(&text);
                }
                parsed.first_rejection.get_or_insert(text);
                if strict {
                    break;
                }
            }
        }
    }
    // Complete records before a truncation are whole events: keep them (not in
    // strict mode, whose validating pass writes nothing anyway).
    let _ = tx.blocking_send(Batch { events: batch, offset: scanner.offset });
    parsed
}

enum Conversion {
    /// This record is malformed; the rest may be fine.
    Reject(String),
    /// The input is not in the forced format at all.
    Fatal(String),
}

/// Turns one scanned record into an event, as the format (forced or detected) says.
fn convert(format: ImportFormat, record: &Record) -> Result<AuditEvent, Conversion> {
    use Container as C;
    use ImportFormat as F;
    let place = format!("line {} (byte {})", record.line, record.offset);
    let mismatch = |what: &str| {
        Conversion::Fatal(format!(
            "--format {}: found {what} at {place}; try --format auto",
            format_name(format)
        ))
    };
    match (format, record.container) {
        (F::Graph, C::Value) | (F::JsonArray, C::Array) | (F::Ndjson, C::TopLevel) | (F::Auto, _) => {}
        (F::ResourceLog, C::TopLevel | C::Records | C::Array) => {}
        (_, C::Value) => return Err(mismatch("a Graph page")),
        (_, C::Records) => return Err(mismatch("a {\"records\":[…]} message")),
        (_, C::Array) => return Err(mismatch("a JSON array")),
        (_, C::TopLevel) => return Err(mismatch("a top-level object")),
    }
    let value: Value = serde_json::from_slice(&record.bytes)
        .map_err(|e| Conversion::Reject(format!("invalid JSON: {e}")))?;
    let as_record = match format {
        F::ResourceLog => true,
        F::Auto => record.container == C::Records || (record.container != C::Value && is_record(&value)),
        _ => false,
    };
    if as_record {
        return parse_record(&value).map_err(|e| Conversion::Reject(e.0));
    }
    // Unlike a POST, an import cannot invent ids or times: they are the identity
    // of the event and what makes a second import a no-op.
    for key in ["id", "activityDateTime"] {
        if value.get(key).is_none_or(Value::is_null) {
            return Err(Conversion::Reject(format!("the property '{key}' is required")));
        }
    }
    parse_event(&value, String::new, chrono::Utc::now).map_err(|e| Conversion::Reject(e.0))
}

fn format_name(format: ImportFormat) -> &'static str {
    match format {
        ImportFormat::Auto => "auto",
        ImportFormat::Graph => "graph",
        ImportFormat::JsonArray => "json-array",
        ImportFormat::Ndjson => "ndjson",
        ImportFormat::ResourceLog => "resource-log",
    }
}
