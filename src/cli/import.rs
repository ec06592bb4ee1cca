//! `auditgraph import FILE|-`: the arguments, the spool of a strict import from
//! stdin, progress and the report, over [`crate::import`].

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::progress::Progress;
use crate::audit::Recorder;
use crate::config::ImportArgs;
use crate::import::{self, MAX_LISTED_REJECTIONS, Options, Outcome};

pub(super) async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let store = super::open_for_command(&args.store).await?;
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
        let written = crate::seed::bulk_load(
            recorder.store(),
            &|p| steps.on_load(p, false),
            pipeline(reader, total, &args, Some(&recorder)),
        )
        .await?;
        eprintln!("{}", written.report());
        return match written.failure() {
            Some(failure) => Err(anyhow::anyhow!("{failure} (the input changed during the import)")),
            None => Ok(()),
        };
    }

    let reader: Box<dyn Read + Send> =
        if from_stdin { Box::new(io::stdin()) } else { open_file(&args.input)? };
    let outcome = crate::seed::bulk_load(
        recorder.store(),
        &|p| steps.on_load(p, false),
        pipeline(reader, total, &args, Some(&recorder)),
    )
    .await?;
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

/// One pass with a byte progress bar when writing; rejections listed as found.
async fn pipeline(
    reader: Box<dyn Read + Send>,
    total: u64,
    args: &ImportArgs,
    recorder: Option<&Recorder>,
) -> anyhow::Result<Outcome> {
    let options = Options { format: args.format, strict: args.strict, batch_size: args.batch_size as usize };
    let progress = if recorder.is_some() { Progress::bytes(total) } else { Progress::steps_only() };
    let reached = std::sync::atomic::AtomicU64::new(0);
    let on_read = |offset: u64| {
        let before = reached.swap(offset, std::sync::atomic::Ordering::Relaxed);
        progress.advance(offset.saturating_sub(before));
    };
    let on_rejected: import::OnRejected = Arc::new(|text| eprintln!("rejected {text}"));
    let outcome = import::pass(reader, &options, recorder, on_read, on_rejected).await?;
    progress.finish();
    if outcome.rejected > MAX_LISTED_REJECTIONS {
        eprintln!("… {} more rejected records not listed", outcome.rejected - MAX_LISTED_REJECTIONS);
    }
    Ok(outcome)
}
