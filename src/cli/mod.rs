//! The command-line doors: serve, seed, migrate, purge, bench, import, export.
//! Each is a thin adapter over the library; long-running ones show progress.

mod bench;
pub(crate) mod export;
mod import;

use std::io::IsTerminal;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use crate::audit::Recorder;
use crate::clock::Clock;
use crate::config::{Cli, Command, SeedArgs, ServeArgs, StoreArgs};
use crate::domain::Ticks;
use crate::startup::Application;
use crate::store::Store;

/// Events per write transaction in a bulk load (seed, and import's default).
/// Every commit rewrites the pages of the event-id index it touched, and random
/// GUIDs touch most of them: 1M events took 59.5 s in batches of 5,000, 48.5 s
/// in batches of 25,000 (20,000 holds a little less in memory).
pub const BULK_BATCH: usize = 20_000;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Seed(args)) => seed(args).await,
        Some(Command::Migrate(args)) => {
            let store = open(&args).await?;
            eprintln!("schema is up to date on {}", store.backend_name());
            Ok(())
        }
        Some(Command::Purge(args)) => {
            let store = open(&args.store).await?;
            let cutoff = Utc::now() - Duration::days(i64::from(args.older_than));
            let purged = store.purge_before(Ticks::from_datetime(cutoff)).await?;
            eprintln!("purged {purged} events older than {} days", args.older_than);
            Ok(())
        }
        Some(Command::Bench(args)) => bench::run(args).await,
        Some(Command::Import(args)) => import::run(args).await,
        Some(Command::Export(args)) => export::run(args).await,
    }
}

async fn open(args: &StoreArgs) -> anyhow::Result<Store> {
    let store = Store::connect(&args.database_url()).await?;
    store.migrate().await?;
    Ok(store)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let app = Application::build(args).await?;
    eprintln!("{}", app.banner());
    app.run_until_stopped().await.context("server failed")
}

async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let store = open(&args.store).await?;
    let to = args.to.unwrap_or_else(Utc::now);
    let from = args.from.unwrap_or(to - Duration::days(365));
    if from >= to {
        anyhow::bail!("--from must be before --to");
    }
    let recorder = Recorder::new(store);
    let started = std::time::Instant::now();
    let outcome = write_generated(&recorder, args.seed, args.count, from, to, true).await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} events ({} already present) in {secs:.1} s ({:.0} events/s)",
        outcome.0,
        outcome.1,
        outcome.0 as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Runs `load` as a bulk load (see [`Store::start_bulk_load`]); the indexes are
/// whole again afterwards, whether the load succeeded or not. Rebuilding them
/// takes a while on a big load, so it says so when `show_progress`.
pub(crate) async fn bulk_load<T>(
    store: &Store,
    show_progress: bool,
    load: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let dropped = store.start_bulk_load().await?;
    let outcome = load.await;
    let step = (dropped && show_progress).then(|| Step::start("building indexes and planner statistics"));
    store.finish_bulk_load().await?;
    if let Some(step) = step {
        step.finish();
    }
    outcome
}

/// Streams generated events into the store in batches; returns (inserted, existing).
/// Generation runs on its own thread, a batch ahead of the writer, so the two
/// overlap instead of taking turns.
pub async fn write_generated(
    recorder: &Recorder,
    seed: u64,
    count: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    show_progress: bool,
) -> anyhow::Result<(u64, u64)> {
    let progress = Progress::new(count, show_progress);
    let (batches, mut ready) = tokio::sync::mpsc::channel(2);
    let generator = tokio::task::spawn_blocking(move || {
        let mut generated = crate::seed::generate(seed, count, from, to);
        loop {
            let batch: Vec<_> = generated.by_ref().take(BULK_BATCH).collect();
            // A closed channel means the writer failed; its error is the one to report.
            if batch.is_empty() || batches.blocking_send(batch).is_err() {
                break;
            }
        }
    });
    let written = bulk_load(recorder.store(), show_progress, async {
        let (mut inserted, mut existing) = (0, 0);
        while let Some(batch) = ready.recv().await {
            let n = batch.len() as u64;
            let outcome = recorder.create_batch(batch).await?;
            inserted += outcome.inserted;
            existing += outcome.existing;
            progress.advance(n);
        }
        Ok((inserted, existing))
    })
    .await;
    drop(ready);
    generator.await.context("the event generator failed")?;
    progress.finish();
    written
}

/// Seeds the demo tenant when the store holds no event at all.
pub async fn seed_demo_if_empty(store: &Store, clock: &Clock, events: u64) -> anyhow::Result<Option<u64>> {
    if events == 0 || !store.is_empty().await? {
        return Ok(None);
    }
    let to = clock.now();
    let recorder = Recorder::new(store.clone());
    let (inserted, _) = write_generated(&recorder, 1, events, to - Duration::days(365), to, false).await?;
    Ok(Some(inserted))
}

/// A step without a measure of progress: a spinner on a terminal, a line otherwise.
struct Step {
    spinner: Option<ProgressBar>,
    started: std::time::Instant,
}

impl Step {
    fn start(what: &'static str) -> Step {
        let spinner = std::io::stderr().is_terminal().then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}…")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.set_message(what);
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            spinner
        });
        if spinner.is_none() {
            eprintln!("{what}…");
        }
        Step { spinner, started: std::time::Instant::now() }
    }

    fn finish(self) {
        if let Some(spinner) = self.spinner {
            spinner.finish_and_clear();
        }
        eprintln!("done in {:.1} s", self.started.elapsed().as_secs_f64());
    }
}

/// A progress bar on a terminal, plain lines every 10% otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    enabled: bool,
}

impl Progress {
    fn new(total: u64, enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar, total, done: std::cell::Cell::new(0), enabled }
    }

    /// Progress through `total` bytes of input (a spinner when the size is unknown).
    fn bytes(total: u64, enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let (bar, template) = if total > 0 {
                (ProgressBar::new(total), "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})")
            } else {
                (ProgressBar::new_spinner(), "{spinner} [{elapsed_precise}] {bytes} read ({bytes_per_sec})")
            };
            bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar
        });
        // Plain lines are counted in events elsewhere; byte progress stays quiet off a terminal.
        Progress { bar, total, done: std::cell::Cell::new(0), enabled: false }
    }

    fn advance(&self, n: u64) {
        let before = self.done.get();
        let after = before + n;
        self.done.set(after);
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if self.enabled && self.total > 0 => {
                let step = (self.total / 10).max(1);
                if before / step != after / step {
                    eprintln!("{after}/{} events ({}%)", self.total, after * 100 / self.total);
                }
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
