//! The command-line doors: serve, seed, migrate, purge, bench, import, export.
//! Each is a thin adapter over the library; long-running ones show progress.

mod bench;
mod bench_http;
mod export;
mod import;
mod progress;

use anyhow::Context;
use chrono::{Duration, Utc};

use crate::audit::Recorder;
use crate::config::{Cli, Command, SeedArgs, ServeArgs, StoreArgs};
use crate::domain::Ticks;
use crate::startup::Application;
use crate::store::Store;
use progress::Progress;

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

/// The store for a command that does one thing at a time (see [`Store::connect_for_command`]).
async fn open_for_command(args: &StoreArgs) -> anyhow::Result<Store> {
    let store = Store::connect_for_command(&args.database_url()).await?;
    store.migrate().await?;
    Ok(store)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let app = Application::build(args).await?;
    eprintln!("{}", app.banner());
    app.run_until_stopped().await.context("server failed")
}

async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let store = open_for_command(&args.store).await?;
    let (from, to) = crate::seed::default_range(args.from, args.to, Utc::now());
    if from >= to {
        anyhow::bail!("--from must be before --to");
    }
    let recorder = Recorder::new(store);
    let started = std::time::Instant::now();
    let progress = Progress::events(args.count);
    let on_load = |p| progress.on_load(p, true);
    let loaded = crate::seed::write_generated(&recorder, args.seed, args.count, from, to, &on_load).await?;
    crate::workloads::seed::ensure_objects(recorder.store(), Utc::now()).await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} events ({} already present) in {secs:.1} s ({:.0} events/s)",
        loaded.inserted,
        loaded.existing,
        loaded.inserted as f64 / secs.max(1e-9)
    );
    Ok(())
}
