//! Settings from flags and environment variables (`AUDITGRAPH_…`), with defaults
//! and validation. Every flag has an environment twin; README lists them all.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::graph::ApiVersion;
use crate::error::{RetryAfterMode, ThrottleFormat};
use crate::export::ExportFormat;
use crate::import::ImportFormat;
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "auditgraph",
    version,
    about = "A local emulator of the Microsoft Graph Intune audit log",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `auditgraph` with no subcommand serves.
    #[command(flatten)]
    pub serve: ServeArgs,
}

// Parsed once at start-up: the size of the serve variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Graph API (the default).
    Serve(ServeArgs),
    /// Write realistic, deterministic audit events into the store.
    Seed(SeedArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(StoreArgs),
    /// Delete events older than the retention window, then exit.
    Purge(PurgeArgs),
    /// Measure import and query speed on a fresh SQLite store (use a release build).
    Bench(BenchArgs),
    /// Load events from a Graph export, JSON array, NDJSON or Azure Monitor records.
    Import(ImportArgs),
    /// Write events as Graph pages, NDJSON, CSV or an Azure Monitor shape.
    Export(ExportArgs),
}

/// Where the events live.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database and generated keys.
    #[arg(long, env = "AUDITGRAPH_DATA_DIR", default_value = "./auditgraph-data")]
    pub data_dir: PathBuf,
    /// sqlite://…, postgres://… or mysql://…; also read from DATABASE_URL.
    /// Default: a SQLite file in the data directory.
    #[arg(long, env = "AUDITGRAPH_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// The database URL to use: the flag, `AUDITGRAPH_DATABASE_URL`, `DATABASE_URL`,
    /// then the embedded SQLite file.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("auditgraph.db").display()))
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address of the plain-HTTP listener.
    #[arg(long, env = "AUDITGRAPH_HTTP", default_value = "127.0.0.1:5080")]
    pub http: SocketAddr,
    /// Address of the HTTPS listener (Graph API and the identity platform), with a
    /// certificate from auditgraph's local CA unless --tls-cert/--tls-key are given.
    #[arg(long, env = "AUDITGRAPH_HTTPS", default_value = "127.0.0.1:5443")]
    pub https: SocketAddr,
    /// PEM certificate (chain) for the HTTPS listener, instead of the local CA's.
    #[arg(long, env = "AUDITGRAPH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "AUDITGRAPH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Tenant file (TOML) declaring tenants, apps, users and Intune roles.
    /// Default: the fixed development tenant (see README).
    #[arg(long, env = "AUDITGRAPH_TENANT_FILE")]
    pub tenant_file: Option<PathBuf>,
    /// `on` checks every Graph call's bearer token; `off` is for quick
    /// exploration only: anyone may read and write.
    #[arg(long, env = "AUDITGRAPH_AUTH", value_enum, default_value = "on")]
    pub auth: Switch,
    /// Also trust access tokens signed by the keys in this JWKS file (to replay
    /// real tokens).
    #[arg(long, env = "AUDITGRAPH_TRUSTED_JWKS")]
    pub trusted_jwks: Option<PathBuf>,
    /// Approve device codes automatically after this many polls.
    #[arg(long, env = "AUDITGRAPH_DEVICE_CODE_AUTO_APPROVE_AFTER")]
    pub device_code_auto_approve_after: Option<u32>,
    /// Sign this user in without a form on /authorize (headless auth-code tests).
    #[arg(long, env = "AUDITGRAPH_AUTO_APPROVE_USER")]
    pub auto_approve_user: Option<String>,
    /// Absolute base URL clients reach this server on (e.g. behind a port mapping);
    /// nextLinks and @odata.context use it instead of the request's own origin.
    #[arg(long, env = "AUDITGRAPH_PUBLIC_BASE_URL", value_parser = parse_base_url)]
    pub public_base_url: Option<String>,
    /// Largest page served, whatever $top asks for.
    #[arg(long, env = "AUDITGRAPH_MAX_PAGE_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_page_size: u64,
    /// Events kept in memory as read and rendered, by storage key (0: none). A
    /// page of cached events costs one index read; see README, Benchmarks.
    #[arg(long, env = "AUDITGRAPH_EVENT_CACHE", default_value_t = crate::store::DEFAULT_EVENT_CACHE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
    pub event_cache: usize,
    /// Events older than this many days are never served, and are purged.
    #[arg(long, env = "AUDITGRAPH_RETENTION_DAYS", default_value_t = 365,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: u32,
    /// How often the background purge runs, in seconds.
    #[arg(long, env = "AUDITGRAPH_PURGE_INTERVAL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub purge_interval_secs: u64,
    /// Do not seed a demo tenant into an empty database.
    #[arg(long, env = "AUDITGRAPH_NO_DEMO")]
    pub no_demo: bool,
    /// How many events the demo tenant has.
    #[arg(long, env = "AUDITGRAPH_DEMO_EVENTS", default_value_t = 3000)]
    pub demo_events: u64,
    /// Key that signs $skiptoken cursors (64 hex digits). Default: generated once
    /// into `<data-dir>/paging.key`. Give every instance that serves one shared
    /// database the same key, so a nextLink works on any of them.
    #[arg(long, env = "AUDITGRAPH_PAGING_KEY", hide_env_values = true)]
    pub paging_key: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "AUDITGRAPH_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Time budget of one GraphQL request over HTTP, in milliseconds: a request
    /// still running then is stopped and answered with a TIMEOUT error.
    #[arg(long, env = "AUDITGRAPH_GRAPHQL_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub graphql_timeout_ms: u64,
    /// Reverse proxies whose `X-Forwarded-For`/`Forwarded` headers are believed
    /// (IP addresses or CIDR blocks; repeat the flag or separate with commas).
    /// Without one, an event's `actor.ipAddress` is the TCP peer.
    #[arg(long = "trusted-proxy", env = "AUDITGRAPH_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = crate::http::ProxyRange::parse)]
    pub trusted_proxies: Vec<crate::http::ProxyRange>,
    /// Origins whose browser apps may call the Graph, GraphQL and identity
    /// endpoints (CORS): `*` for any, or origins such as `http://localhost:3000`
    /// (repeat the flag or separate with commas). Never the admin API.
    #[arg(long = "cors-origin", env = "AUDITGRAPH_CORS_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub cors_origins: Vec<String>,
    /// Log lines as text or JSON (filter with RUST_LOG).
    #[arg(long, env = "AUDITGRAPH_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub emulator: EmulatorArgs,
    #[command(flatten)]
    pub routing: RoutingArgs,
}

/// Live routing to Azure Monitor destinations (diagnostic settings).
#[derive(Debug, Clone, Args)]
pub struct RoutingArgs {
    /// A storage account diagnostic settings may name: `NAME=CONNECTION_STRING`
    /// (repeat the flag). `devstoreaccount1` is Azurite's development account
    /// on `http://127.0.0.1:10000` unless given here.
    #[arg(long = "storage-account", env = "AUDITGRAPH_STORAGE_ACCOUNTS", value_delimiter = '|', value_parser = parse_account)]
    pub storage_accounts: Vec<(String, String)>,
    /// How long a destination collects events before one delivery (Intune: 5
    /// minutes): `300s`, `1s`, `250ms`. `POST /_auditgraph/routing/flush` delivers at once.
    #[arg(long, env = "AUDITGRAPH_ROUTING_WINDOW", default_value = "300s", value_parser = parse_duration)]
    pub routing_window: std::time::Duration,
    /// The `resourceId=` segment of storage blob paths (Intune's is inferred:
    /// `/TENANTS/<TENANT ID>/PROVIDERS/MICROSOFT.INTUNE`), as `export --resource-id`.
    #[arg(long, env = "AUDITGRAPH_ROUTING_RESOURCE_ID")]
    pub routing_resource_id: Option<String>,
    /// The Event Hubs endpoint (AMQP 1.0, plain TCP, as the SDKs use with
    /// `UseDevelopmentEmulator=true`): an address, or `off`. When the default
    /// port is taken (RabbitMQ also uses 5672), a free port is used instead and
    /// the banner says which.
    #[arg(long, env = "AUDITGRAPH_EVENTHUBS", default_value = DEFAULT_EVENTHUBS, value_parser = parse_listen)]
    pub eventhubs: Listen,
    /// The namespace key (key name `RootManageSharedAccessKey`); the default is
    /// the official emulator's, so connection strings work with both.
    #[arg(long, env = "AUDITGRAPH_EVENTHUBS_KEY", default_value = crate::hubs::DEFAULT_KEY)]
    pub eventhubs_key: String,
    /// Partitions of a hub auditgraph creates (1 to 32).
    #[arg(long, env = "AUDITGRAPH_EVENTHUBS_PARTITIONS", default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..=32))]
    pub eventhubs_partitions: i32,
    /// How long event hub events are kept: `24h` (the most), `1h`, `90s`.
    #[arg(long, env = "AUDITGRAPH_EVENTHUBS_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub eventhubs_retention: std::time::Duration,
    /// An event hub to create at start, for producers (repeat the flag); a
    /// diagnostic setting creates the hub it names.
    #[arg(long = "eventhub", env = "AUDITGRAPH_EVENTHUB_NAMES", value_delimiter = ',')]
    pub eventhub_names: Vec<String>,
}

/// The Event Hubs endpoint's default address (the SDKs' default port).
pub const DEFAULT_EVENTHUBS: &str = "127.0.0.1:5672";

/// A listener's address, or `None` for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<std::net::SocketAddr>);

fn parse_listen(value: &str) -> Result<Listen, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(Listen(None));
    }
    value
        .parse()
        .map(|a| Listen(Some(a)))
        .map_err(|_| format!("'{value}' is not an address such as 127.0.0.1:5672, or off"))
}

fn parse_account(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((name, connection)) if !name.trim().is_empty() && !connection.trim().is_empty() => {
            Ok((name.trim().to_string(), connection.trim().to_string()))
        }
        _ => Err(format!("'{value}' is not NAME=CONNECTION_STRING")),
    }
}

/// `300s`, `1.5s`, `250ms`, `5m`.
pub fn parse_duration(value: &str) -> Result<std::time::Duration, String> {
    let value = value.trim();
    let (number, unit) = match value.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => value.split_at(i),
        None => (value, "s"),
    };
    let n: f64 = number.parse().map_err(|_| format!("'{value}' is not a duration such as 300s or 250ms"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("'{value}' is not a duration such as 300s or 250ms")),
    };
    if !(seconds.is_finite() && (0.01..=86_400.0).contains(&seconds)) {
        return Err(format!("'{value}' must be between 10ms and 24h"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// On or off, for every switch on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// The emulator controls: the admin API, throttling, faults, the request journal.
#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Lets non-loopback callers reach the admin API (`/_auditgraph/…`) with
    /// `Authorization: Bearer <this token>`. Without it, only loopback callers may.
    #[arg(long, env = "AUDITGRAPH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How many recent requests `GET /_auditgraph/requests` keeps.
    #[arg(long, env = "AUDITGRAPH_JOURNAL_SIZE", default_value_t = 1000)]
    pub journal_size: usize,
    /// Intune's auditEvents throttling (per app per tenant and per tenant).
    #[arg(long, env = "AUDITGRAPH_THROTTLING", value_enum, default_value = "on")]
    pub throttling: Switch,
    /// Multiplies Intune's limits (0.01 turns 1000 reads per app into 10).
    #[arg(long, env = "AUDITGRAPH_THROTTLE_SCALE", default_value_t = 1.0, value_parser = parse_scale)]
    pub throttle_scale: f64,
    /// Length of a throttling window in seconds (Intune's is 20).
    #[arg(long, env = "AUDITGRAPH_THROTTLE_WINDOW_SECS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub throttle_window_secs: u64,
    /// The body of a 429.
    #[arg(long, env = "AUDITGRAPH_THROTTLE_FORMAT", value_enum, default_value = "intune")]
    pub throttle_format: ThrottleFormat,
    /// The `Retry-After` header of a 429.
    #[arg(long, env = "AUDITGRAPH_THROTTLE_RETRY_AFTER", value_enum, default_value = "seconds")]
    pub throttle_retry_after: RetryAfterMode,
    /// Throttle again, for a full window, a client that retries before its wait is over.
    #[arg(long, env = "AUDITGRAPH_THROTTLE_ENFORCE_RETRY_AFTER")]
    pub throttle_enforce_retry_after: bool,
    /// JSON file of fault rules, `{"seed": 1, "rules": [...]}` (README, Faults).
    #[arg(long, env = "AUDITGRAPH_FAULTS")]
    pub faults: Option<PathBuf>,
    /// Redis for the throttling limiter every instance of a cluster shares
    /// (`redis://127.0.0.1:6379`); without it a database server is the limiter,
    /// and an embedded SQLite store counts in the process.
    #[arg(long, env = "AUDITGRAPH_REDIS_URL")]
    pub redis_url: Option<String>,
}

fn parse_scale(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{value}' is not a positive number")),
    }
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Number of events to write.
    #[arg(long, env = "AUDITGRAPH_SEED_COUNT", default_value_t = 3000)]
    pub count: u64,
    /// Seed of the generator: the same seed, count and range give identical events.
    #[arg(long, env = "AUDITGRAPH_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Start of the time range (RFC 3339); default 364 days before --to (inside the retention).
    #[arg(long, env = "AUDITGRAPH_SEED_FROM")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of the time range (RFC 3339); default the start of the current UTC day.
    #[arg(long, env = "AUDITGRAPH_SEED_TO")]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Delete events older than this many days.
    #[arg(long, env = "AUDITGRAPH_PURGE_OLDER_THAN", default_value_t = 365)]
    pub older_than: u32,
}

fn parse_base_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(format!("'{value}' is not an absolute http(s) URL"));
    }
    Ok(trimmed.to_string())
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Where the benchmark's SQLite file is written (replaced on every run).
    #[arg(long, env = "AUDITGRAPH_BENCH_DIR", default_value = "./auditgraph-bench")]
    pub data_dir: PathBuf,
    /// Events to seed.
    #[arg(long, env = "AUDITGRAPH_BENCH_EVENTS", default_value_t = 1_000_000)]
    pub events: u64,
    /// Seed of the generated events.
    #[arg(long, env = "AUDITGRAPH_BENCH_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Time the queries on the store an earlier run left, without seeding again.
    #[arg(long, env = "AUDITGRAPH_BENCH_REUSE")]
    pub reuse: bool,
    /// Timed runs per query.
    #[arg(long, env = "AUDITGRAPH_BENCH_ITERATIONS", default_value_t = 200)]
    pub iterations: usize,
    /// Concurrent connections of the HTTP phase (0: skip it).
    #[arg(long, env = "AUDITGRAPH_BENCH_CONNECTIONS", default_value_t = 16)]
    pub connections: usize,
    /// Seconds each request kind of the HTTP phase is driven for.
    #[arg(long, env = "AUDITGRAPH_BENCH_SECONDS", default_value_t = 10.0)]
    pub seconds: f64,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// File to read, or `-` for standard input.
    pub input: PathBuf,
    /// Input format.
    #[arg(long, env = "AUDITGRAPH_IMPORT_FORMAT", value_enum, default_value = "auto")]
    pub format: ImportFormat,
    /// Validate the whole input first and write nothing if any record is malformed.
    #[arg(long, env = "AUDITGRAPH_IMPORT_STRICT")]
    pub strict: bool,
    /// Events per write transaction.
    #[arg(long, env = "AUDITGRAPH_IMPORT_BATCH_SIZE", default_value_t = crate::seed::BULK_BATCH as u64,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output shape.
    #[arg(long, env = "AUDITGRAPH_EXPORT_FORMAT", value_enum)]
    pub format: ExportFormat,
    /// Only events matching this OData $filter expression.
    #[arg(long, env = "AUDITGRAPH_EXPORT_FILTER")]
    pub filter: Option<String>,
    /// Only events at or after this instant (RFC 3339).
    #[arg(long, env = "AUDITGRAPH_EXPORT_FROM")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events before this instant (RFC 3339).
    #[arg(long, env = "AUDITGRAPH_EXPORT_TO")]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// File to write, or `-` for standard output; a directory for `storage`.
    #[arg(long, env = "AUDITGRAPH_EXPORT_OUTPUT", default_value = "-")]
    pub output: PathBuf,
    /// Graph API version of `graph` and `ndjson` objects; v1.0 leaves out the
    /// beta-only actor fields, exactly as the v1.0 API does.
    #[arg(long, env = "AUDITGRAPH_EXPORT_VERSION", value_enum, default_value = "beta")]
    pub version: ApiVersion,
    /// Events per Graph page (and per store read).
    #[arg(long, env = "AUDITGRAPH_EXPORT_PAGE_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub page_size: u64,
    /// `tenantId` of Azure Monitor records (and the Log Analytics `TenantId`).
    #[arg(long, env = "AUDITGRAPH_EXPORT_TENANT_ID",
          default_value = crate::directory::well_known::dev::TENANT_ID)]
    pub tenant_id: String,
    /// `resourceId` segment of storage blob paths.
    /// Default: `/TENANTS/{TENANT-ID}/PROVIDERS/MICROSOFT.INTUNE`.
    #[arg(long, env = "AUDITGRAPH_EXPORT_RESOURCE_ID")]
    pub resource_id: Option<String>,
}
