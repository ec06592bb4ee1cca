//! `auditgraph import FILE|-`: loads what users actually hold (Graph list
//! responses, JSON arrays, NDJSON events, Azure Monitor records) into the store.
//!
//! Memory stays constant whatever the input size: a small incremental scanner
//! walks the JSON structure and hands over one record at a time (the raw bytes of
//! one array element or one top-level object), which serde then parses. Even a
//! 1 GB single Graph page, whose records all sit in one `"value"` array, is never
//! held whole. Parsing runs on a blocking thread and feeds batches to the writer
//! through a short channel, so reading and writing overlap.
//!
//! Writes go through [`Recorder::create_batch`]: one transaction per batch,
//! idempotent on the event id, so importing a file twice adds nothing.
//!
//! Malformed records are reported with their line and byte offset. By default they
//! are skipped. `--strict` validates the whole input first (stdin is spooled to a
//! temporary file for it) and writes nothing at all unless every record is valid,
//! so a strict run is all or nothing. A truncated input is an error naming the
//! offset; in the default mode the complete records before it are kept.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use tokio::sync::mpsc;

use super::progress::Progress;
use crate::audit::Recorder;
use crate::config::{ImportArgs, ImportFormat};
use crate::domain::AuditEvent;
use crate::domain::graph::parse_event;
use crate::domain::monitor::{is_record, parse_record};

/// Rejections listed one by one; beyond this only the count is reported.
const MAX_LISTED_REJECTIONS: u64 = 100;
/// Largest single record (or skipped member of a page object) the scanner holds.
const MAX_RECORD_BYTES: usize = 64 << 20;

pub(super) async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let store = super::open(&args.store).await?;
    let recorder = Recorder::new(store);
    let steps = Progress::steps_only();
    let from_stdin = args.input.as_os_str() == "-";
    let total = if from_stdin { 0 } else { std::fs::metadata(&args.input).map(|m| m.len()).unwrap_or(0) };

    if args.strict {
        // Pass 1 validates without writing; stdin is kept in a spool for pass 2.
        let spool = if from_stdin {
            Some(tempfile::NamedTempFile::new().context("cannot create a spool file")?)
        } else {
            None
        };
        let reader: Box<dyn Read + Send> = match &spool {
            Some(spool) => Box::new(Tee { inner: io::stdin(), copy: spool.reopen()? }),
            None => open_file(&args.input)?,
        };
        let checked = pipeline(reader, total, &args, None).await?;
        if let Some(failure) = checked.failure() {
            eprintln!("{}", checked.report());
            anyhow::bail!("{failure}; --strict: nothing was written");
        }
        let reader: Box<dyn Read + Send> = match &spool {
            Some(spool) => Box::new(spool.reopen()?),
            None => open_file(&args.input)?,
        };
        let written =
            crate::seed::bulk_load(recorder.store(), &|p| steps.on_load(p, false), pipeline(reader, total, &args, Some(&recorder))).await?;
        eprintln!("{}", written.report());
        return match written.failure() {
            Some(failure) => Err(anyhow::anyhow!("{failure} (the input changed during the import)")),
            None => Ok(()),
        };
    }

    let reader: Box<dyn Read + Send> =
        if from_stdin { Box::new(io::stdin()) } else { open_file(&args.input)? };
    let outcome =
        crate::seed::bulk_load(recorder.store(), &|p| steps.on_load(p, false), pipeline(reader, total, &args, Some(&recorder))).await?;
    eprintln!("{}", outcome.report());
    match outcome.error {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

fn open_file(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(file))
}

/// Copies what is read from stdin into the spool of a strict import.
struct Tee<R> {
    inner: R,
    copy: File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        io::Write::write_all(&mut self.copy, &buf[..n])?;
        Ok(n)
    }
}

/// What one pass over the input did.
#[derive(Debug, Default)]
struct Outcome {
    inserted: u64,
    existing: u64,
    /// Valid records read (inserted + existing when writing).
    accepted: u64,
    rejected: u64,
    /// The first rejection, for `--strict`.
    first_rejection: Option<String>,
    /// A fatal error: truncation, broken structure, unreadable input, wrong format.
    error: Option<ScanError>,
    writing: bool,
}

impl Outcome {
    fn failure(&self) -> Option<String> {
        match (&self.error, &self.first_rejection) {
            (Some(e), _) => Some(e.to_string()),
            (None, Some(r)) => Some(format!("rejected {r}")),
            (None, None) => None,
        }
    }

    fn report(&self) -> String {
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

/// A batch from the parser thread, and how far into the input it reached.
struct Batch {
    events: Vec<AuditEvent>,
    offset: u64,
}

/// Parses on a blocking thread and, with a recorder, writes batch by batch.
async fn pipeline(
    reader: Box<dyn Read + Send>,
    total: u64,
    args: &ImportArgs,
    recorder: Option<&Recorder>,
) -> anyhow::Result<Outcome> {
    let (tx, mut rx) = mpsc::channel::<Batch>(2);
    let (format, strict, batch_size) = (args.format, args.strict, args.batch_size as usize);
    let parser = tokio::task::spawn_blocking(move || parse_all(reader, format, strict, batch_size, tx));
    let progress = if recorder.is_some() { Progress::bytes(total) } else { Progress::steps_only() };
    let mut outcome = Outcome { writing: recorder.is_some(), ..Outcome::default() };
    let mut reached = 0;
    while let Some(batch) = rx.recv().await {
        if let Some(recorder) = recorder {
            let written = recorder.create_batch(batch.events).await.context("cannot write a batch")?;
            outcome.inserted += written.inserted;
            outcome.existing += written.existing;
        }
        progress.advance(batch.offset.saturating_sub(reached));
        reached = batch.offset;
    }
    progress.finish();
    let parsed = parser.await.context("the parser thread failed")?;
    outcome.accepted = parsed.accepted;
    outcome.rejected = parsed.rejected;
    outcome.first_rejection = parsed.first_rejection;
    outcome.error = parsed.error;
    if outcome.rejected > MAX_LISTED_REJECTIONS {
        eprintln!("… {} more rejected records not listed", outcome.rejected - MAX_LISTED_REJECTIONS);
    }
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
    format: ImportFormat,
    strict: bool,
    batch_size: usize,
    tx: mpsc::Sender<Batch>,
) -> Parsed {
    let mut scanner = Scanner::new(reader);
    let mut parsed = Parsed::default();
    let mut batch = Vec::with_capacity(batch_size);
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
                if batch.len() >= batch_size {
                    let events = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                    if tx.blocking_send(Batch { events, offset: scanner.offset }).is_err() {
                        return parsed; // the writer failed and reports why
                    }
                }
            }
            Err(reason) => {
                parsed.rejected += 1;
                let text = format!("record at line {line} (byte {offset}): {reason}");
                if parsed.rejected <= MAX_LISTED_REJECTIONS {
                    eprintln!("rejected {text}");
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

// ---------------------------------------------------------------------------------
// The scanner
// ---------------------------------------------------------------------------------

/// Where a record sat in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    /// A top-level object (NDJSON, JSON lines, or one pretty-printed object).
    TopLevel,
    /// An element of a top-level array.
    Array,
    /// An element of the `"value"` array of a Graph page.
    Value,
    /// An element of the `"records"` array of an event-hub message.
    Records,
}

/// The raw bytes of one record and where it started (1-based line, 0-based byte).
#[derive(Debug)]
struct Record {
    bytes: Vec<u8>,
    line: u64,
    offset: u64,
    container: Container,
}

#[derive(Debug)]
enum Scanned {
    Record(Record),
    /// A top-level item that is not JSON; the scanner resumed on the next line.
    Malformed {
        line: u64,
        offset: u64,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
enum ScanError {
    #[error("cannot read the input: {0}")]
    Io(#[from] io::Error),
    #[error("the input is truncated at byte {offset}: it ends {context}")]
    Truncated { offset: u64, context: String },
    #[error("malformed JSON at line {line} (byte {offset}): {reason}")]
    Syntax { line: u64, offset: u64, reason: String },
    #[error("{0}")]
    Format(String),
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Top,
    /// Streaming the elements of an array opened at `line`/`offset`.
    Array {
        container: Container,
        in_object: bool,
        line: u64,
        offset: u64,
        first: bool,
    },
}

/// An incremental JSON scanner: finds record boundaries by tracking strings and
/// brackets only, leaving full validation of each record to serde.
struct Scanner<R> {
    reader: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// Bytes consumed so far.
    offset: u64,
    /// The current line, 1-based.
    line: u64,
    mode: Mode,
    started: bool,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<R: Read> Scanner<R> {
    fn new(reader: R) -> Self {
        Scanner {
            reader,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            offset: 0,
            line: 1,
            mode: Mode::Top,
            started: false,
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        if self.pos == self.len {
            self.len = loop {
                match self.reader.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            self.pos = 0;
            if self.len == 0 {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[self.pos]))
    }

    /// Consumes the byte `peek` returned.
    fn bump(&mut self) -> u8 {
        let b = self.buf[self.pos];
        self.pos += 1;
        self.offset += 1;
        if b == b'\n' {
            self.line += 1;
        }
        b
    }

    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        while let Some(b) = self.peek()? {
            if !is_ws(b) {
                return Ok(Some(b));
            }
            self.bump();
        }
        Ok(None)
    }

    /// Resynchronises after a malformed top-level item: skips to the next line.
    fn skip_line(&mut self) -> io::Result<()> {
        while let Some(b) = self.peek()? {
            self.bump();
            if b == b'\n' {
                break;
            }
        }
        Ok(())
    }

    fn truncated(&self, context: String) -> ScanError {
        ScanError::Truncated { offset: self.offset, context }
    }

    fn syntax(&self, reason: impl Into<String>) -> ScanError {
        ScanError::Syntax { line: self.line, offset: self.offset, reason: reason.into() }
    }

    fn push(&mut self, out: &mut Vec<u8>) -> Result<(), ScanError> {
        if out.len() >= MAX_RECORD_BYTES {
            return Err(self.syntax(format!("a record is larger than {} MiB", MAX_RECORD_BYTES >> 20)));
        }
        let b = self.bump();
        out.push(b);
        Ok(())
    }

    /// Copies a string, quotes included. JSON strings cannot hold a raw line
    /// break, so meeting one means the closing quote is missing.
    fn capture_string(&mut self, out: &mut Vec<u8>, context: &str) -> Result<(), ScanError> {
        self.push(out)?; // the opening quote
        loop {
            match self.peek()? {
                None => return Err(self.truncated(format!("inside a string {context}"))),
                Some(b'"') => return self.push(out),
                Some(b'\\') => {
                    self.push(out)?;
                    if self.peek()?.is_none() {
                        return Err(self.truncated(format!("inside a string {context}")));
                    }
                    self.push(out)?;
                }
                Some(b'\n') => return Err(self.syntax("a string is missing its closing quote")),
                Some(_) => self.push(out)?,
            }
        }
    }

    /// Copies one JSON value (scalar, string, object or array).
    fn capture_value(&mut self, out: &mut Vec<u8>, context: &str) -> Result<(), ScanError> {
        let mut closers = Vec::new();
        loop {
            let Some(b) = self.peek()? else {
                return Err(self.truncated(context.to_string()));
            };
            match b {
                b'"' => self.capture_string(out, context)?,
                b'{' => {
                    closers.push(b'}');
                    self.push(out)?;
                }
                b'[' => {
                    closers.push(b']');
                    self.push(out)?;
                }
                b'}' | b']' => {
                    if closers.pop() != Some(b) {
                        return Err(self.syntax(format!("unexpected '{}'", b as char)));
                    }
                    self.push(out)?;
                }
                _ if closers.is_empty() => {
                    // A scalar runs up to the next delimiter.
                    while let Some(b) = self.peek()? {
                        if is_ws(b) || matches!(b, b',' | b']' | b'}') {
                            break;
                        }
                        self.push(out)?;
                    }
                    if out.is_empty() {
                        return Err(self.syntax(format!("unexpected '{}'", b as char)));
                    }
                    return Ok(());
                }
                _ => self.push(out)?,
            }
            if closers.is_empty() {
                return Ok(());
            }
        }
    }

    /// The next record, or None at the end of the input.
    fn next_record(&mut self) -> Result<Option<Scanned>, ScanError> {
        if !self.started {
            self.started = true;
            // A UTF-8 byte-order mark, as PowerShell's Out-File writes.
            if self.peek()? == Some(0xEF) {
                for expected in [0xEF, 0xBB, 0xBF] {
                    if self.peek()? != Some(expected) {
                        return Err(self.syntax("invalid byte-order mark"));
                    }
                    self.bump();
                }
            }
        }
        loop {
            match self.mode {
                Mode::Top => {
                    let Some(b) = self.skip_ws()? else { return Ok(None) };
                    let (line, offset) = (self.line, self.offset);
                    match b {
                        b'[' => {
                            self.bump();
                            self.mode = Mode::Array {
                                container: Container::Array,
                                in_object: false,
                                line,
                                offset,
                                first: true,
                            };
                        }
                        b'{' => match self.top_object(line, offset) {
                            Ok(Some(record)) => return Ok(Some(Scanned::Record(record))),
                            Ok(None) => {} // a page or message: its array streams next
                            Err(ScanError::Syntax { reason, .. }) => {
                                self.skip_line()?;
                                return Ok(Some(Scanned::Malformed { line, offset, reason }));
                            }
                            Err(e) => return Err(e),
                        },
                        _ => {
                            self.skip_line()?;
                            let reason = "not a JSON object or array".to_string();
                            return Ok(Some(Scanned::Malformed { line, offset, reason }));
                        }
                    }
                }
                Mode::Array { container, in_object, line, offset, first } => {
                    let context = format!("inside the array opened at line {line} (byte {offset})");
                    let Some(mut b) = self.skip_ws()? else { return Err(self.truncated(context)) };
                    if !first && b != b']' {
                        if b != b',' {
                            return Err(self.syntax("expected ',' or ']' after an array element"));
                        }
                        self.bump();
                        b = self.skip_ws()?.ok_or_else(|| self.truncated(context.clone()))?;
                    }
                    if b == b']' {
                        self.bump();
                        if in_object {
                            self.finish_object(&context)?;
                        }
                        self.mode = Mode::Top;
                        continue;
                    }
                    self.mode = Mode::Array { container, in_object, line, offset, first: false };
                    let (line, offset) = (self.line, self.offset);
                    let mut bytes = Vec::with_capacity(2048);
                    self.capture_value(
                        &mut bytes,
                        &format!("inside the record that starts at line {line} (byte {offset})"),
                    )?;
                    return Ok(Some(Scanned::Record(Record { bytes, line, offset, container })));
                }
            }
        }
    }

    /// Reads a top-level object. A `"value"` or `"records"` member holding an array
    /// makes it a page or message: the array is streamed (the mode switches and
    /// None is returned). Otherwise the whole object is one record.
    fn top_object(&mut self, line: u64, offset: u64) -> Result<Option<Record>, ScanError> {
        let context = format!("inside the object that starts at line {line} (byte {offset})");
        let mut out = Vec::with_capacity(2048);
        self.push(&mut out)?; // '{'
        let mut first = true;
        loop {
            let Some(b) = self.skip_ws()? else { return Err(self.truncated(context)) };
            match b {
                b'}' => {
                    self.push(&mut out)?;
                    return Ok(Some(Record { bytes: out, line, offset, container: Container::TopLevel }));
                }
                b',' if !first => self.push(&mut out)?,
                b'"' => {
                    let start = out.len();
                    self.capture_string(&mut out, &context)?;
                    let key: String = serde_json::from_slice(&out[start..]).unwrap_or_default();
                    if self.skip_ws()? != Some(b':') {
                        return Err(self.syntax("expected ':' after a member name"));
                    }
                    self.push(&mut out)?;
                    let container = match key.as_str() {
                        "value" => Some(Container::Value),
                        "records" => Some(Container::Records),
                        _ => None,
                    };
                    if let Some(container) = container
                        && self.skip_ws()? == Some(b'[')
                    {
                        let (line, offset) = (self.line, self.offset);
                        self.bump();
                        self.mode = Mode::Array { container, in_object: true, line, offset, first: true };
                        return Ok(None);
                    }
                    self.skip_ws()?;
                    self.capture_value(&mut out, &context)?;
                    first = false;
                }
                _ => return Err(self.syntax(format!("expected a member name, found '{}'", b as char))),
            }
        }
    }

    /// Skips the members of a page object after its streamed array, up to its `}`
    /// (`@odata.nextLink` usually).
    fn finish_object(&mut self, context: &str) -> Result<(), ScanError> {
        let mut scratch = Vec::new();
        loop {
            scratch.clear();
            match self.skip_ws()? {
                None => return Err(self.truncated(context.to_string())),
                Some(b'}') => {
                    self.bump();
                    return Ok(());
                }
                Some(b',') => {
                    self.bump();
                }
                Some(b'"') => {
                    self.capture_string(&mut scratch, context)?;
                    if self.skip_ws()? != Some(b':') {
                        return Err(self.syntax("expected ':' after a member name"));
                    }
                    self.bump();
                    self.skip_ws()?;
                    scratch.clear();
                    self.capture_value(&mut scratch, context)?;
                }
                Some(b) => return Err(self.syntax(format!("expected a member name, found '{}'", b as char))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<Result<(Container, u64, String), String>> {
        let mut scanner = Scanner::new(text.as_bytes());
        let mut out = Vec::new();
        loop {
            match scanner.next_record() {
                Ok(None) => return out,
                Ok(Some(Scanned::Record(r))) => {
                    out.push(Ok((r.container, r.line, String::from_utf8(r.bytes).unwrap())))
                }
                Ok(Some(Scanned::Malformed { line, reason, .. })) => {
                    out.push(Err(format!("{line}: {reason}")))
                }
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    #[test]
    fn pages_arrays_and_lines() {
        let text = "\u{feff}{\"@odata.context\":\"x\",\"value\":[{\"a\":\"]}\"},\n {\"b\":[1,{}]}],\"@odata.nextLink\":\"n\"}\n[1, \"s\"]\n{\"c\":{\"value\":2}}\n";
        let got = scan(text);
        assert_eq!(
            got,
            vec![
                Ok((Container::Value, 1, "{\"a\":\"]}\"}".into())),
                Ok((Container::Value, 2, "{\"b\":[1,{}]}".into())),
                Ok((Container::Array, 3, "1".into())),
                Ok((Container::Array, 3, "\"s\"".into())),
                Ok((Container::TopLevel, 4, "{\"c\":{\"value\":2}}".into())),
            ]
        );
    }

    #[test]
    fn a_broken_line_is_skipped_and_truncation_is_fatal() {
        let got = scan("{\"a\":1}\n{\"b\":\"oops}\n{\"c\":3}\n[{\"d\":");
        assert_eq!(got[0], Ok((Container::TopLevel, 1, "{\"a\":1}".into())));
        assert!(matches!(&got[1], Err(e) if e.starts_with("2: a string is missing")), "{got:?}");
        assert_eq!(got[2], Ok((Container::TopLevel, 3, "{\"c\":3}".into())));
        assert!(matches!(&got[3], Err(e) if e.contains("truncated at byte 34")), "{got:?}");
    }
}
