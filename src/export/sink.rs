//! The export formats: a sink per shape, fed page by page. Each shape is a pure
//! function in `domain`; a sink only batches and writes.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value};

use super::{ExportFormat, Target};
use crate::domain::graph::{ApiVersion, event_json};
use crate::domain::monitor::{self, EventHubBatcher, to_dotnet_json};
use crate::domain::{AuditEvent, csv as csv_shape};

/// Where a sink writes: a file, stdout, or a buffer; `Send`, so a sink can
/// write on a thread of its own (see [`super::write_all`]).
pub(super) type Output = Box<dyn Write + Send>;

fn open_output(path: &Path) -> anyhow::Result<Output> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufWriter::new(io::stdout())));
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(BufWriter::new(file)))
}

/// Where the events go, with whatever state the format needs between pages.
pub enum Sink {
    Graph { out: Output, version: ApiVersion, context: String, pages: u64 },
    Ndjson { out: Output, version: ApiVersion },
    Csv(Box<csv::Writer<Output>>),
    ResourceLog { out: Output, tenant_id: String },
    LogAnalytics { out: Output, workspace_id: String },
    EventHub { out: Output, tenant_id: String, batcher: EventHubBatcher },
    Storage(Storage),
}

impl Sink {
    /// A sink writing to `target.output`: a file, `-` for stdout, or the
    /// directory of the `storage` tree.
    pub fn open(target: &Target) -> anyhow::Result<Sink> {
        let tenant_id = target.tenant_id.clone();
        if target.format == ExportFormat::Storage {
            if target.output.as_os_str() == "-" {
                anyhow::bail!("--format storage writes a directory tree: give --output DIR");
            }
            let resource_id =
                target.resource_id.clone().unwrap_or_else(|| monitor::default_resource_id(&tenant_id));
            return Ok(Sink::Storage(Storage {
                root: target.output.clone(),
                resource_id,
                tenant_id,
                current: None,
                seen: HashSet::new(),
            }));
        }
        Sink::new(target.format, target.version, tenant_id, open_output(&target.output)?)
    }

    /// A sink for every format but `storage` (a directory tree, not a stream).
    pub(super) fn new(
        format: ExportFormat,
        version: ApiVersion,
        tenant_id: String,
        out: Output,
    ) -> anyhow::Result<Sink> {
        Ok(match format {
            ExportFormat::Graph => Sink::Graph {
                out,
                version,
                context: format!(
                    "https://graph.microsoft.com/{}/$metadata#deviceManagement/auditEvents",
                    version.segment()
                ),
                pages: 0,
            },
            ExportFormat::Ndjson => Sink::Ndjson { out, version },
            ExportFormat::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(csv_shape::HEADER)?;
                Sink::Csv(Box::new(writer))
            }
            ExportFormat::ResourceLog => Sink::ResourceLog { out, tenant_id },
            ExportFormat::LogAnalytics => Sink::LogAnalytics { out, workspace_id: tenant_id },
            ExportFormat::EventHub => Sink::EventHub { out, tenant_id, batcher: EventHubBatcher::default() },
            ExportFormat::Storage => anyhow::bail!("--format storage writes a directory tree, not a stream"),
        })
    }

    pub(super) fn write(&mut self, events: &[AuditEvent]) -> anyhow::Result<()> {
        match self {
            Sink::Graph { out, version, context, pages } => {
                // One Graph page per store page; an empty tail page is not written
                // unless the whole export is empty (a real empty list response).
                if events.is_empty() && *pages > 0 {
                    return Ok(());
                }
                let mut page = Map::new();
                page.insert("@odata.context".into(), Value::String(context.clone()));
                let value = events.iter().map(|e| Value::Object(event_json(e, *version, None))).collect();
                page.insert("value".into(), Value::Array(value));
                serde_json::to_writer(&mut *out, &page)?;
                out.write_all(b"\n")?;
                *pages += 1;
            }
            Sink::Ndjson { out, version } => {
                for e in events {
                    serde_json::to_writer(&mut *out, &event_json(e, *version, None))?;
                    out.write_all(b"\n")?;
                }
            }
            Sink::Csv(writer) => {
                for e in events {
                    writer.write_record(csv_shape::row(e))?;
                }
            }
            Sink::ResourceLog { out, tenant_id } => {
                for e in events {
                    writeln!(out, "{}", to_dotnet_json(&Value::Object(monitor::record(e, tenant_id))))?;
                }
            }
            Sink::LogAnalytics { out, workspace_id } => {
                for e in events {
                    writeln!(
                        out,
                        "{}",
                        to_dotnet_json(&Value::Object(monitor::log_analytics_row(e, workspace_id)))
                    )?;
                }
            }
            Sink::EventHub { out, tenant_id, batcher } => {
                for e in events {
                    let record = to_dotnet_json(&Value::Object(monitor::record(e, tenant_id)));
                    if let Some(message) =
                        batcher.push(monitor::event_hub_window(e.activity_date_time), &record)
                    {
                        writeln!(out, "{message}")?;
                    }
                }
            }
            Sink::Storage(storage) => {
                for e in events {
                    storage.write(e)?;
                }
            }
        }
        Ok(())
    }

    /// Pushes buffered output to the writer (the CSV writer keeps rows back).
    pub(super) fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Graph { out, .. }
            | Sink::Ndjson { out, .. }
            | Sink::ResourceLog { out, .. }
            | Sink::LogAnalytics { out, .. }
            | Sink::EventHub { out, .. } => out.flush()?,
            Sink::Csv(writer) => writer.flush()?,
            Sink::Storage(_) => {}
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> anyhow::Result<()> {
        if let Sink::Graph { pages: 0, .. } = self {
            self.write(&[])?;
        }
        match self {
            Sink::Graph { mut out, .. }
            | Sink::Ndjson { mut out, .. }
            | Sink::ResourceLog { mut out, .. }
            | Sink::LogAnalytics { mut out, .. } => out.flush()?,
            Sink::EventHub { mut out, mut batcher, .. } => {
                if let Some(message) = batcher.finish() {
                    writeln!(out, "{message}")?;
                }
                out.flush()?;
            }
            Sink::Csv(mut writer) => writer.flush()?,
            Sink::Storage(mut storage) => storage.close()?,
        }
        Ok(())
    }
}

/// The storage-account tree: one JSON-lines `PT1H.json` blob per hour.
pub struct Storage {
    root: PathBuf,
    resource_id: String,
    tenant_id: String,
    current: Option<(String, BufWriter<File>)>,
    /// Blobs written by this run: reopened for append, never truncated twice.
    seen: HashSet<String>,
}

impl Storage {
    fn write(&mut self, e: &AuditEvent) -> anyhow::Result<()> {
        let blob = monitor::storage_blob_path(&self.resource_id, e.activity_date_time);
        if self.current.as_ref().is_none_or(|(path, _)| *path != blob) {
            self.close()?;
            let path = self.root.join(&blob);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            // A blob from an earlier run is replaced; within a run it only grows.
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(self.seen.contains(&blob))
                .truncate(!self.seen.contains(&blob))
                .open(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            self.seen.insert(blob.clone());
            self.current = Some((blob, BufWriter::new(file)));
        }
        let (_, out) = self.current.as_mut().expect("a blob is open");
        writeln!(out, "{}", to_dotnet_json(&Value::Object(monitor::record(e, &self.tenant_id))))?;
        Ok(())
    }

    fn close(&mut self) -> anyhow::Result<()> {
        if let Some((_, mut out)) = self.current.take() {
            out.flush()?;
        }
        Ok(())
    }
}
