//! Bulk loads: many events into the store through the one write path, fast.
//! Seeding, the demo tenant, `/_auditgraph/reset` and `import` all load this way.
//! Progress goes to a callback, so the terminal (bars, spinners) stays in the CLI.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::audit::Recorder;
use crate::clock::Clock;
use crate::store::Store;

/// Events per write transaction in a bulk load (seed, and import's default).
/// Every commit rewrites the pages of the event-id index it touched, and random
/// GUIDs touch most of them: 1M events took 59.5 s in batches of 5,000, 48.5 s
/// in batches of 25,000 (20,000 holds a little less in memory).
pub const BULK_BATCH: usize = 20_000;

/// What a bulk load reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadProgress {
    /// This many more events were written (inserted or found present).
    Written(u64),
    /// The load is over and the secondary indexes are being rebuilt: on a big
    /// load this takes a while after the last event was written.
    RebuildingIndexes,
    /// The indexes are whole again.
    Done,
}

/// Where a bulk load reports its progress; [`quiet`] when nobody watches.
pub type OnProgress<'a> = &'a (dyn Fn(LoadProgress) + Sync);

/// A progress callback that ignores everything.
pub fn quiet(_: LoadProgress) {}

/// Runs `load` as a bulk load (see [`Store::start_bulk_load`]); the indexes are
/// whole again afterwards, whether the load succeeded or not.
pub async fn bulk_load<T>(
    store: &Store,
    progress: OnProgress<'_>,
    load: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let dropped = store.start_bulk_load().await?;
    let outcome = load.await;
    if dropped {
        progress(LoadProgress::RebuildingIndexes);
    }
    store.finish_bulk_load().await?;
    progress(LoadProgress::Done);
    outcome
}

/// What a bulk load did: events inserted, and events whose id was already stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    pub inserted: u64,
    pub existing: u64,
}

/// Streams `count` generated events (see [`super::generate`]) into the store in
/// batches. Generation runs on its own thread, a batch ahead of the writer, so
/// the two overlap instead of taking turns.
pub async fn write_generated(
    recorder: &Recorder,
    seed: u64,
    count: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    progress: OnProgress<'_>,
) -> anyhow::Result<Loaded> {
    let (batches, mut ready) = tokio::sync::mpsc::channel(2);
    let generator = tokio::task::spawn_blocking(move || {
        let mut generated = super::generate(seed, count, from, to);
        loop {
            let batch: Vec<_> = generated.by_ref().take(BULK_BATCH).collect();
            // A closed channel means the writer failed; its error is the one to report.
            if batch.is_empty() || batches.blocking_send(batch).is_err() {
                break;
            }
        }
    });
    let written = bulk_load(recorder.store(), progress, async {
        let mut loaded = Loaded::default();
        while let Some(batch) = ready.recv().await {
            let n = batch.len() as u64;
            let outcome = recorder.create_batch(batch).await?;
            loaded.inserted += outcome.inserted;
            loaded.existing += outcome.existing;
            progress(LoadProgress::Written(n));
        }
        Ok(loaded)
    })
    .await;
    drop(ready);
    generator.await.context("the event generator failed")?;
    written
}

/// Seeds the demo tenant when the store holds no event at all; returns how many
/// events it wrote.
pub async fn seed_demo_if_empty(store: &Store, clock: &Clock, events: u64) -> anyhow::Result<Option<u64>> {
    if events == 0 || !store.is_empty().await? {
        return Ok(None);
    }
    let (from, to) = super::default_range(None, None, clock.now());
    let recorder = Recorder::new(store.clone());
    let loaded = write_generated(&recorder, 1, events, from, to, &quiet).await?;
    Ok(Some(loaded.inserted))
}
