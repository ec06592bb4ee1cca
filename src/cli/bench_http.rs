//! `auditgraph bench`'s HTTP phase: the real server (auth on, throttling off)
//! on the benchmark's store, driven over loopback by concurrent keep-alive
//! connections that share the machine with it, as a client's load generator
//! would; and, in the same run, a ceiling: an actix-web server answering the
//! captured bytes of a page without touching the store. Each request's rate is
//! reported as a ratio to the ceiling (issue 18's targets).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;

use crate::config::{Cli, Command};

/// What one request kind measured.
struct Load {
    requests: u64,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Sends `request` from `connections` tasks for `seconds`; every answer must be 200.
async fn load(
    connections: usize,
    seconds: f64,
    request: impl Fn(&reqwest012::Client) -> reqwest012::RequestBuilder + Send + Sync + 'static,
) -> anyhow::Result<Load> {
    let request = Arc::new(request);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            // One keep-alive connection per task, as a load generator's.
            let client = reqwest012::Client::builder().pool_max_idle_per_host(1).build()?;
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = request(&client).send().await?;
                let status = response.status();
                response.bytes().await?;
                anyhow::ensure!(status == 200, "the benchmark's request was answered {status}");
                times.push(started.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let started = Instant::now();
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds);
    times.sort();
    let at = |q: f64| {
        times.get(((times.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or_default()
    };
    Ok(Load {
        requests: times.len() as u64,
        per_second: times.len() as f64 / elapsed,
        p50: at(0.5),
        p99: at(0.99),
    })
}

/// The ceiling: the same bytes from an actix-web server that reads nothing.
async fn ceiling(page: Vec<u8>, connections: usize, seconds: f64) -> anyhow::Result<Load> {
    let page = web::Bytes::from(page);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        let page = page.clone();
        App::new().default_service(web::to(move || {
                let page = page.clone();
                async move {
                    HttpResponse::Ok().content_type("application/json;odata.metadata=minimal").body(page)
                }
            }))
    })
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    let url = format!("http://127.0.0.1:{port}/v1.0/deviceManagement/auditEvents?$top=50");
    let measured = load(connections, seconds, move |c| c.get(&url)).await;
    handle.stop(true).await;
    measured
}

async fn json(response: reqwest012::Response) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Starts the real server on `database_url` with an event cache of
/// `event_cache` events; returns its base URL and a reader's bearer token.
async fn serve(
    data_dir: &std::path::Path,
    database_url: &str,
    event_cache: usize,
) -> anyhow::Result<(String, String)> {
    let dir = data_dir.display().to_string();
    let event_cache = event_cache.to_string();
    let argv = [
        "auditgraph",
        "serve",
        "--http",
        "127.0.0.1:0",
        "--https",
        "127.0.0.1:0",
        "--no-demo",
        "--throttling",
        "off",
        "--eventhubs",
        "off",
        "--data-dir",
        &dir,
        "--database-url",
        database_url,
        "--event-cache",
        &event_cache,
    ];
    let cli = <Cli as clap::Parser>::try_parse_from(argv)?;
    let Some(Command::Serve(args)) = cli.command else { anyhow::bail!("serve arguments") };
    let app = crate::startup::Application::build(args).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let http = reqwest012::Client::new();
    let token: serde_json::Value = json(
        http.post(format!("{base}/{}/oauth2/v2.0/token", crate::directory::well_known::dev::TENANT_ID))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", crate::directory::well_known::dev::READER_CLIENT_ID),
                ("client_secret", "reader-secret"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await?,
    )
    .await?;
    let bearer =
        format!("Bearer {}", token["access_token"].as_str().context("no token from the token endpoint")?);
    Ok((base, bearer))
}

/// Serves `database_url` and measures the pages over HTTP: with the default
/// event cache, then the filters again with none (what a first read costs).
pub async fn run(
    data_dir: &std::path::Path,
    database_url: &str,
    queries: &[(&str, String)],
    connections: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let (base, bearer) = serve(data_dir, database_url, crate::store::DEFAULT_EVENT_CACHE).await?;
    let http = reqwest012::Client::new();
    let events = format!("{base}/v1.0/deviceManagement/auditEvents");

    // Page 500 of $top=50, reached through nextLinks as a client reaches it.
    let mut deep = format!("{events}?$top=50");
    for _ in 0..499 {
        let page = json(http.get(&deep).header("authorization", &bearer).send().await?).await?;
        deep = page["@odata.nextLink"].as_str().context("paging needs 25,000 events")?.to_string();
    }
    let unfiltered = format!("{events}?$top=50");
    let captured =
        http.get(&unfiltered).header("authorization", &bearer).send().await?.bytes().await?.to_vec();

    println!(
        "\nover HTTP: {connections} connections on loopback for {seconds} s each (the load shares the cores)\n{:<36} {:>9} {:>9} {:>9} {:>8}",
        "", "req/s", "p50 ms", "p99 ms", "ceiling"
    );
    let top = ceiling(captured, connections, seconds).await?;
    let report = |name: &str, l: &Load| {
        println!(
            "{name:<36} {:>9.0} {:>9.2} {:>9.2} {:>7.0}%",
            l.per_second,
            ms(l.p50),
            ms(l.p99),
            l.per_second / top.per_second * 100.0
        )
    };
    report("ceiling: the captured page, no store", &top);
    let mut kinds = first_pages(&events, queries);
    kinds.push(("page 500 via nextLink".into(), deep));
    let rest = gets(kinds, &bearer, connections, seconds, &report).await?;
    let mut graphql_and_rest = (0.0, rest);
    let query = serde_json::json!({"query": GRAPHQL_PAGE}).to_string();
    let graphql = format!("{base}/graphql");
    let probe = http
        .post(&graphql)
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(query.clone())
        .send()
        .await?;
    let probe = json(probe).await?;
    anyhow::ensure!(probe.get("errors").is_none(), "the benchmark's GraphQL page failed: {probe}");
    let measured = load(connections, seconds, move |c| {
        c.post(&graphql)
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(query.clone())
    })
    .await?;
    graphql_and_rest.0 = measured.per_second;
    report("GraphQL connection page (first: 50)", &measured);
    println!(
        "GraphQL page costs {:.2}x the REST page",
        graphql_and_rest.1 / graphql_and_rest.0.max(f64::MIN_POSITIVE)
    );

    let (cold, bearer) = serve(&data_dir.join("uncached"), database_url, 0).await?;
    println!("with --event-cache 0 (every page read and rendered whole):");
    let kinds = first_pages(&format!("{cold}/v1.0/deviceManagement/auditEvents"), queries);
    gets(kinds, &bearer, connections, seconds, &report).await?;
    Ok(())
}

/// The filters' first pages and the unfiltered one, by name, against `events`.
fn first_pages(events: &str, queries: &[(&str, String)]) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> =
        queries.iter().map(|(name, query)| (name.to_string(), format!("{events}?{query}"))).collect();
    kinds.push((UNFILTERED.into(), format!("{events}?$top=50")));
    kinds
}

const UNFILTERED: &str = "unfiltered first page ($top=50)";

/// Loads and reports each GET in turn; returns the unfiltered page's rate.
async fn gets(
    kinds: Vec<(String, String)>,
    bearer: &str,
    connections: usize,
    seconds: f64,
    report: &dyn Fn(&str, &Load),
) -> anyhow::Result<f64> {
    let mut unfiltered = 0.0;
    for (name, url) in kinds {
        let bearer = bearer.to_string();
        let measured =
            load(connections, seconds, move |c| c.get(&url).header("authorization", &bearer)).await?;
        anyhow::ensure!(measured.requests > 0, "no request of '{name}' finished");
        if name == UNFILTERED {
            unfiltered = measured.per_second;
        }
        report(&name, &measured);
    }
    Ok(unfiltered)
}

/// A GraphQL page of the same 50 events with the fields REST returns.
const GRAPHQL_PAGE: &str = "{ auditEvents(first: 50) { nodes { id displayName componentName activity \
    activityDateTime activityType activityOperationType activityResult correlationId category \
    actor { auditActorType userPermissions applicationId applicationDisplayName userPrincipalName \
    servicePrincipalName ipAddress userId remoteTenantId remoteUserId \
    userRoleScopeTags { roleScopeTagId displayName } } \
    resources { displayName auditResourceType resourceId \
    modifiedProperties { displayName oldValue newValue } } } pageInfo { hasNextPage endCursor } } }";
