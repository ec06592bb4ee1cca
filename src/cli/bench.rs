//! `auditgraph bench`: the recorded speed figures. Seeds a fresh SQLite store
//! through the write path, then times first pages of the filters people use and a
//! deep keyset page, in-process (parse, SQL, assembly, serialisation; no HTTP).
//! Then the same pages over HTTP against the real server, beside a ceiling
//! (`bench_http`). Run it with `cargo run --release -- bench`; README records
//! the figures.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;

use super::progress::Progress;
use crate::audit::Recorder;
use crate::config::BenchArgs;
use crate::domain::graph::{ApiVersion, event_json};
use crate::odata::QueryOptions;
use crate::store::{Cursor, PageRequest, Store, default_order};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let db_path = args.data_dir.join("bench.db");
    if !args.reuse {
        crate::store::remove_sqlite_file(&db_path);
    }
    // In-process figures are the store's own work: every page read whole, as
    // before the event cache (the HTTP phase serves with it, and without).
    let store =
        Store::connect(&format!("sqlite://{}?mode=rwc", db_path.display())).await?.with_event_cache(0);
    store.migrate().await?;

    let to = Utc::now();
    if args.reuse {
        println!("auditgraph bench: timing queries on {}", db_path.display());
    } else {
        println!("auditgraph bench: {} events into SQLite at {}", args.events, db_path.display());
        let from = to - chrono::Duration::days(365);
        let started = Instant::now();
        let progress = Progress::events(args.events);
        let recorder = Recorder::new(store.clone());
        let on_load = |p| progress.on_load(p, true);
        let inserted = crate::seed::write_generated(&recorder, args.seed, args.events, from, to, &on_load)
            .await?
            .inserted;
        let import = started.elapsed();
        println!(
            "import: {inserted} events in {:.1} s = {:.0} events/s",
            import.as_secs_f64(),
            inserted as f64 / import.as_secs_f64()
        );
        let floor = raw_floor(&args, from, to).await?;
        let floor_time = floor.writing + floor.indexing;
        println!(
            "raw SQLite floor: {} events in {:.1} s ({:.1} s writing, {:.1} s indexes) = {:.0} events/s; \
             auditgraph's load takes {:.2}x the floor",
            floor.events,
            floor_time.as_secs_f64(),
            floor.writing.as_secs_f64(),
            floor.indexing.as_secs_f64(),
            floor.events as f64 / floor_time.as_secs_f64(),
            import.as_secs_f64() / floor_time.as_secs_f64()
        );
    }

    let sample = sample_values(&store).await?;
    let since = (to - chrono::Duration::days(90)).format("%Y-%m-%dT%H:%M:%SZ");
    let queries = [
        (
            "(a) date range + category, desc",
            format!(
                "$filter=activityDateTime ge {since} and category eq 'Device'&$orderby=activityDateTime desc&$top=50"
            ),
        ),
        (
            "(b) actor/userPrincipalName eq",
            format!("$filter=actor/userPrincipalName eq '{}'&$top=50", sample.upn),
        ),
        (
            "(c) resources/any(resourceId eq)",
            format!("$filter=resources/any(r:r/resourceId eq '{}')&$top=50", sample.resource_id),
        ),
        ("(d) contains(displayName,'wipe')", "$filter=contains(displayName,'wipe')&$top=50".to_string()),
    ];
    println!("\nfirst page, {} runs each        median      p99   rows", args.iterations);
    for (name, query) in &queries {
        let mut times = Vec::with_capacity(args.iterations);
        let mut rows = 0;
        for _ in 0..args.iterations {
            let started = Instant::now();
            rows = first_page(&store, query).await?;
            times.push(started.elapsed());
        }
        let (median, p99) = percentiles(&mut times);
        println!("{name:<34} {:>7.2} ms {:>7.2} ms {rows:>5}", ms(median), ms(p99));
    }

    // Keyset paging: page 500 costs what page 1 costs.
    let order = default_order();
    let mut deep: Option<Cursor> = None;
    for _ in 0..499 {
        let next = serve_page(&store, None, &order, deep.as_ref(), 50).await?.1;
        deep = Some(next.context("paging needs at least 25,000 events (500 pages of 50)")?);
    }
    let deep = deep.context("no pages")?;
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    let (mut first, mut deep_times) = (Vec::new(), Vec::new());
    for _ in 0..args.iterations {
        let started = Instant::now();
        serve_page(&store, None, &order, None, 50).await?;
        first.push(started.elapsed());
        let started = Instant::now();
        serve_page(&store, None, &order, Some(&deep), 50).await?;
        deep_times.push(started.elapsed());
    }
    let (first_median, _) = percentiles(&mut first);
    let (deep_median, _) = percentiles(&mut deep_times);
    println!(
        "\npaging $top=50: page 1 {:.2} ms, page 500 {:.2} ms (ratio {:.2})",
        ms(first_median),
        ms(deep_median),
        deep_median.as_secs_f64() / first_median.as_secs_f64()
    );
    if args.connections > 0 {
        let named: Vec<(&str, String)> = queries.iter().map(|(n, q)| (*n, q.clone())).collect();
        super::bench_http::run(&args.data_dir, &url, &named, args.connections, args.seconds).await?;
    }
    Ok(())
}

/// The same generated events through SQLite alone (see `store::floor`), into a
/// file beside the benchmark's, removed afterwards.
async fn raw_floor(
    args: &BenchArgs,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) -> anyhow::Result<crate::store::floor::Floor> {
    let path = args.data_dir.join("floor.db");
    crate::store::floor::prepare(&path).await?;
    let (seed, events) = (args.seed, args.events);
    let loading = path.clone();
    let floor = tokio::task::spawn_blocking(move || {
        let mut generated = crate::seed::generate(seed, events, from, to).peekable();
        let batches = std::iter::from_fn(move || {
            generated.peek()?;
            Some(generated.by_ref().take(crate::seed::BULK_BATCH).collect::<Vec<_>>())
        });
        crate::store::floor::load(&loading, batches)
    })
    .await
    .context("the floor's thread failed")??;
    crate::store::remove_sqlite_file(&path);
    Ok(floor)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

struct Sample {
    upn: String,
    resource_id: String,
}

/// A user and a resource as a client would look them up: taken from the newest event.
async fn sample_values(store: &Store) -> anyhow::Result<Sample> {
    let order = default_order();
    let page = store
        .page(&PageRequest {
            filter: None,
            order: &order,
            after: None,
            offset: 0,
            limit: 200,
            not_before: crate::domain::Ticks(i64::MIN),
            scan: false,
        })
        .await?;
    let upn = page
        .events
        .iter()
        .find_map(|e| e.actor.as_ref()?.user_principal_name.clone())
        .context("no event with a user actor")?;
    let resource_id = page
        .events
        .iter()
        .find_map(|e| e.resources.first()?.resource_id.clone())
        .context("no event with a resource")?;
    Ok(Sample { upn, resource_id })
}

/// What the list handler does, minus HTTP: parse, read, serialise.
async fn first_page(store: &Store, query: &str) -> anyhow::Result<usize> {
    let options = QueryOptions::parse(query)?;
    let order = if options.orderby.is_empty() { default_order() } else { options.orderby.clone() };
    let limit = options.top.unwrap_or(50);
    Ok(serve_page(store, options.filter.as_ref(), &order, None, limit).await?.0)
}

/// Reads and serialises one page: (rows, where the next page starts).
async fn serve_page(
    store: &Store,
    filter: Option<&crate::odata::Filter>,
    order: &[crate::odata::OrderKey],
    after: Option<&Cursor>,
    limit: u64,
) -> anyhow::Result<(usize, Option<Cursor>)> {
    let page = store
        .page(&PageRequest {
            filter,
            order,
            after,
            offset: 0,
            limit,
            not_before: crate::domain::Ticks(0),
            scan: false,
        })
        .await?;
    let body: Vec<_> = page.events.iter().map(|e| event_json(e, ApiVersion::V1, None)).collect();
    serde_json::to_vec(&body)?;
    Ok((page.events.len(), page.next))
}
