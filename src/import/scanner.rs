//! An incremental JSON scanner: finds record boundaries in Graph pages, JSON
//! arrays, NDJSON and event-hub messages by tracking strings and brackets only,
//! so memory stays one record deep whatever the input's size.

use std::io::{self, Read};

/// Largest single record (or skipped member of a page object) the scanner holds.
const MAX_RECORD_BYTES: usize = 64 << 20;

/// Where a record sat in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Container {
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
pub(super) struct Record {
    pub(super) bytes: Vec<u8>,
    pub(super) line: u64,
    pub(super) offset: u64,
    pub(super) container: Container,
}

#[derive(Debug)]
pub(super) enum Scanned {
    Record(Record),
    /// A top-level item that is not JSON; the scanner resumed on the next line.
    Malformed {
        line: u64,
        offset: u64,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read the input: {0}")]
    Io(#[from] io::Error),
    #[error("the input is truncated at byte {offset}: it ends {context}")]
    Truncated { offset: u64, context: String },
    #[error("malformed JSON at line {line} (byte {offset}): {reason}")]
    Syntax { line: u64, offset: u64, reason: String },
    #[error("{0}")]
    Format(String),
}

enum Step {
    Done(Option<Scanned>),
    Next,
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
pub(super) struct Scanner<R> {
    reader: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// Bytes consumed so far.
    pub(super) offset: u64,
    /// The current line, 1-based.
    line: u64,
    mode: Mode,
    started: bool,
    /// Whether the input is line-delimited (NDJSON, JSON lines): `Some(true)` when
    /// forced (`--format ndjson`); under `auto`, undecided (`None`) until the first
    /// top-level item ends, and line-delimited when it ended on the line it began.
    lines: Option<bool>,
    /// Set while a top-level item of a line-delimited input is read: its end of
    /// line is its end, so a line break inside it makes the line malformed (and
    /// reading goes on at the next line) instead of letting the next line complete it.
    line_bound: bool,
    /// Where the current top-level item began (1-based line, byte).
    item: (u64, u64),
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<R: Read> Scanner<R> {
    pub(super) fn new(reader: R) -> Self {
        Scanner {
            reader,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            offset: 0,
            line: 1,
            mode: Mode::Top,
            started: false,
            lines: None,
            line_bound: false,
            item: (1, 0),
        }
    }

    /// A scanner of a line-delimited input: each line is one item.
    pub(super) fn line_delimited(reader: R) -> Self {
        Scanner { lines: Some(true), ..Scanner::new(reader) }
    }

    /// After a top-level item's opening bracket: a bracket alone on its line opens
    /// a multi-line document (a pretty-printed page or array), not a broken line,
    /// so the document is read whole, across lines.
    fn open_bracket(&mut self) -> io::Result<()> {
        while let Some(b) = self.peek()? {
            match b {
                b' ' | b'\t' | b'\r' => {
                    self.bump();
                }
                b'\n' => {
                    self.line_bound = false;
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    fn line_end(&self) -> ScanError {
        self.syntax(
            "the line ends inside the item it starts (each line of a line-delimited input is one item)",
        )
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

    fn skip_ws(&mut self) -> Result<Option<u8>, ScanError> {
        while let Some(b) = self.peek()? {
            if !is_ws(b) {
                return Ok(Some(b));
            }
            if b == b'\n' && self.line_bound {
                return Err(self.line_end());
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
        if self.line_bound && self.buf[self.pos] == b'\n' {
            return Err(self.line_end());
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
    pub(super) fn next_record(&mut self) -> Result<Option<Scanned>, ScanError> {
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
            let in_item = matches!(self.mode, Mode::Array { .. });
            match self.step() {
                Ok(Step::Next) => continue,
                Ok(Step::Done(scanned)) => return Ok(scanned),
                // A bad line of a line-delimited input: reported, skipped.
                Err(ScanError::Syntax { reason, .. }) if self.line_bound => {
                    return Ok(Some(self.malformed(reason)?));
                }
                Err(ScanError::Truncated { context, .. }) if self.line_bound => {
                    return Ok(Some(self.malformed(format!("the input ends {context}"))?));
                }
                // Outside a line-delimited input, only a top-level object's syntax
                // error is recoverable (at the next line); the rest is fatal.
                Err(ScanError::Syntax { reason, .. }) if !in_item => {
                    return Ok(Some(self.malformed(reason)?));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends a malformed top-level item: reading goes on at the next line.
    fn malformed(&mut self, reason: String) -> Result<Scanned, ScanError> {
        self.line_bound = false;
        self.mode = Mode::Top;
        self.skip_line()?;
        let (line, offset) = self.item;
        Ok(Scanned::Malformed { line, offset, reason })
    }

    /// A top-level item ended: under `auto`, the first one decides whether the
    /// input is line-delimited.
    fn item_done(&mut self) {
        self.line_bound = false;
        if self.lines.is_none() {
            self.lines = Some(self.item.0 == self.line);
        }
    }

    /// One step of [`Self::next_record`]: a record, a malformed item, the end, or
    /// a change of mode.
    fn step(&mut self) -> Result<Step, ScanError> {
        {
            match self.mode {
                Mode::Top => {
                    let Some(b) = self.skip_ws()? else { return Ok(Step::Done(None)) };
                    let (line, offset) = (self.line, self.offset);
                    self.item = (line, offset);
                    self.line_bound = self.lines == Some(true);
                    match b {
                        b'[' => {
                            self.bump();
                            self.open_bracket()?;
                            self.mode = Mode::Array {
                                container: Container::Array,
                                in_object: false,
                                line,
                                offset,
                                first: true,
                            };
                        }
                        // None: a page or message, whose array streams next.
                        b'{' => {
                            if let Some(record) = self.top_object(line, offset)? {
                                self.item_done();
                                return Ok(Step::Done(Some(Scanned::Record(record))));
                            }
                        }
                        _ => return Err(self.syntax("not a JSON object or array")),
                    }
                    Ok(Step::Next)
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
                        self.item_done();
                        return Ok(Step::Next);
                    }
                    self.mode = Mode::Array { container, in_object, line, offset, first: false };
                    let (line, offset) = (self.line, self.offset);
                    let mut bytes = Vec::with_capacity(2048);
                    self.capture_value(
                        &mut bytes,
                        &format!("inside the record that starts at line {line} (byte {offset})"),
                    )?;
                    Ok(Step::Done(Some(Scanned::Record(Record { bytes, line, offset, container }))))
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
        self.open_bracket()?;
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
        // Line-delimited (the first item ended on its line): the last line is just bad.
        assert!(matches!(&got[3], Err(e) if e.starts_with("4: the input ends inside")), "{got:?}");
        assert_eq!(got.len(), 4);
        // In a multi-line document, truncation is fatal.
        let got = scan("[\n{\"a\":1},\n{\"d\":");
        assert_eq!(got[0], Ok((Container::Array, 2, "{\"a\":1}".into())));
        assert!(matches!(&got[1], Err(e) if e.contains("truncated at byte 16")), "{got:?}");
    }

    #[test]
    fn a_line_ending_inside_its_object_never_takes_the_next_line() {
        let text = "{\"id\":\"1\"}\n{\"id\": \"broken\", \"activityDateTime\": \n{\"id\":\"3\"}\n{\"id\":{\n{\"id\":\"5\"}\n";
        let got = scan(text);
        assert_eq!(got[0], Ok((Container::TopLevel, 1, "{\"id\":\"1\"}".into())));
        assert!(matches!(&got[1], Err(e) if e.starts_with("2: the line ends inside")), "{got:?}");
        assert_eq!(got[2], Ok((Container::TopLevel, 3, "{\"id\":\"3\"}".into())));
        assert!(matches!(&got[3], Err(e) if e.starts_with("4: the line ends inside")), "{got:?}");
        assert_eq!(got[4], Ok((Container::TopLevel, 5, "{\"id\":\"5\"}".into())));
        assert_eq!(got.len(), 5);
        // Forced line-delimited: even a broken first line is only that line.
        let mut scanner = Scanner::line_delimited("{\"id\": \n{\"id\":\"2\"}\n".as_bytes());
        assert!(matches!(scanner.next_record(), Ok(Some(Scanned::Malformed { line: 1, offset: 0, .. }))));
        assert!(matches!(
            scanner.next_record(),
            Ok(Some(Scanned::Record(Record { line: 2, offset: 8, .. })))
        ));
        assert!(matches!(scanner.next_record(), Ok(None)));
        // A pretty-printed page is one document.
        let got = scan("{\n  \"value\": [\n    {\"id\": \"1\"}\n  ]\n}\n{\"value\":[{\"id\":\"2\"}]}\n");
        assert_eq!(
            got,
            vec![
                Ok((Container::Value, 3, "{\"id\": \"1\"}".into())),
                Ok((Container::Value, 6, "{\"id\":\"2\"}".into()))
            ]
        );
    }
}
