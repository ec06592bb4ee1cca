//! Builds the application (store, state, listener, background tasks) and runs it
//! until SIGINT/SIGTERM, finishing in-flight requests first.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::audit::Recorder;
use crate::auth::TokenVerifier;
use crate::clock::Clock;
use crate::config::{DEFAULT_EVENTHUBS, Listen, ServeArgs, Switch};
use crate::emulator::{self, Emulator};
use crate::graphql;
use crate::hubs::{HubsConfig, Namespace};
use crate::identity::{self, IdentityConfig, IdentityService};
use crate::paging::PagingKey;
use crate::rest;
use crate::routing::Router;
use crate::routing::storage::Accounts;
use crate::state::AppState;
use crate::store::{Store, redact};

pub struct Application {
    port: u16,
    https_port: u16,
    eventhubs: Option<std::net::SocketAddr>,
    server: Server,
    state: web::Data<AppState>,
    banner: String,
}

impl Application {
    pub async fn build(args: ServeArgs) -> anyhow::Result<Application> {
        let database_url = args.store.database_url();
        let store = Store::connect(&database_url).await?.with_event_cache(args.event_cache);
        store.migrate().await?;
        let clock = Clock::default();
        // Its settings are checked before anything slow starts.
        let emulator = web::Data::new(Emulator::new(clock.clone(), &args.emulator, &store)?);
        let seeded = if args.no_demo {
            None
        } else {
            crate::seed::seed_demo_if_empty(&store, &clock, args.demo_events).await?
        };
        // The development tenant's Intune objects, and those its history names.
        crate::workloads::seed::ensure_objects(&store, clock.now()).await?;
        let http = TcpListener::bind(args.http).with_context(|| {
            format!("cannot listen on {} (is another auditgraph running? try --http 127.0.0.1:0)", args.http)
        })?;
        let https = TcpListener::bind(args.https).with_context(|| {
            format!(
                "cannot listen on {} (is another auditgraph running? try --https 127.0.0.1:0)",
                args.https
            )
        })?;
        let port = http.local_addr()?.port();
        let https_port = https.local_addr()?.port();
        // The local CA's certificate names localhost; every discovery URL uses it.
        let https_origin = format!("https://localhost:{https_port}");

        let data_dir = &args.store.data_dir;
        if store.is_shared() {
            share_secrets(&store, data_dir, &args).await?;
        }
        let mut identity_config = IdentityConfig::new(data_dir.clone(), https_origin.clone());
        identity_config.tenant_file = args.tenant_file.clone();
        identity_config.device_code_auto_approve_after = args.device_code_auto_approve_after;
        identity_config.auto_approve_user = args.auto_approve_user.clone();
        let identity = IdentityService::new(identity_config)?;
        let user_cert = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
        let tls = crate::tls::load_or_create_tls(data_dir, user_cert)?;

        let verifier = verifier(&identity, args.trusted_jwks.as_deref())?;
        let tenant = identity.directory().tenants().first().map(|t| t.id.clone()).unwrap_or_default();
        let hubs = Namespace::new(
            store.clone(),
            clock.clone(),
            HubsConfig {
                partitions: args.routing.eventhubs_partitions,
                retention: args.routing.eventhubs_retention,
                key: args.routing.eventhubs_key.clone(),
            },
        );
        for name in &args.routing.eventhub_names {
            anyhow::ensure!(
                crate::hubs::valid_hub_name(name),
                "--eventhub '{name}' is not a valid event hub name (letters, digits, '.', '-', '_'; up to 256)"
            );
            hubs.ensure(name).await?;
        }
        let eventhubs = bind_eventhubs(args.routing.eventhubs).await?;
        let router = std::sync::Arc::new(Router::new(
            store.clone(),
            clock.clone(),
            Accounts::new(&args.routing.storage_accounts)?,
            hubs.clone(),
            args.routing.routing_window,
            tenant.clone(),
            args.routing.routing_resource_id.clone(),
        )?);
        let state = web::Data::new(AppState {
            recorder: Recorder::new(store.clone()),
            paging_key: match &args.paging_key {
                Some(hex) => PagingKey::from_hex(hex)?,
                None => PagingKey::load_or_create(&data_dir.join("paging.key"))?,
            },
            store,
            clock,
            max_page_size: args.max_page_size,
            retention_days: args.retention_days,
            max_body_bytes: args.max_body_bytes,
            graphql_timeout: Duration::from_millis(args.graphql_timeout_ms),
            trusted_proxies: args.trusted_proxies.clone(),
            public_base_url: args.public_base_url.clone(),
            verifier: (args.auth == Switch::On).then(|| verifier.clone()),
        });

        let app_state = state.clone();
        let schema = web::Data::new(graphql::schema(state.clone()));
        let identity_data = web::Data::new(identity.clone());
        // userinfo verifies Graph tokens even when Graph's own doors do not (--auth off).
        let verifier_for_sync = verifier.clone();
        let verifier_data = web::Data::new(verifier);
        let emulator_data = emulator.clone();
        let cors = web::Data::new(crate::http::CorsPolicy::new(&args.cors_origins));
        let router_data = web::Data::new(router.clone());
        crate::http::install_refusals();
        let server = HttpServer::new(move || {
            App::new()
                // The last wrap runs first: graph_headers sets the request ids that
                // the journal and every error envelope (the gate's too) quote.
                .wrap(from_fn(emulator::gate))
                .wrap(from_fn(emulator::record))
                // Preflights are answered before the gate, throttling and faults.
                .wrap(from_fn(crate::http::cors))
                .wrap(TracingLogger::default())
                .wrap(from_fn(crate::http::graph_headers))
                .app_data(app_state.clone())
                .app_data(identity_data.clone())
                .app_data(verifier_data.clone())
                .app_data(emulator_data.clone())
                .app_data(schema.clone())
                .app_data(cors.clone())
                .app_data(router_data.clone())
                // The Graph routes first (static prefixes); the doors below come before
                // the other spellings of a version, whose `/{version}/…` pattern would
                // take `/{tenant}/…` and `/graphql/…`.
                .configure(rest::configure)
                .configure(graphql::configure)
                .configure(identity::configure)
                .configure(emulator::configure)
                // The admin page (`/`, `/auditlogs/…`), also before `/{version}/…`.
                .configure(crate::web::configure)
                // ARM's diagnostic settings (`/providers/…`), before `/{version}/…` too.
                .configure(crate::arm::configure)
                .configure(rest::configure_other_spellings)
                .default_service(web::to(rest::not_found))
        })
        .listen(http)?
        .listen_rustls_0_23(https, tls.server_config)?
        .shutdown_timeout(10)
        .run();

        spawn_retention(state.clone(), Duration::from_secs(args.purge_interval_secs));
        tokio::spawn(crate::store::uncounted(router.run()));
        let eventhubs = eventhubs.map(|(listener, addr, fell_back)| {
            tokio::spawn(crate::amqp::serve(listener, hubs.clone()));
            (addr, fell_back)
        });
        let recorder = state.recorder.clone();
        tokio::spawn(crate::store::uncounted(async move { recorder.relay().await }));
        let base_url =
            args.public_base_url.clone().unwrap_or_else(|| format!("http://{}:{port}", args.http.ip()));
        spawn_heartbeat(state.store.clone(), base_url);
        emulator::spawn_sync(emulator.clone(), state.store.clone(), state.clock.clone());
        identity::rotation::spawn_sync(identity.clone(), verifier_for_sync, state.store.clone());

        let base =
            args.public_base_url.clone().unwrap_or_else(|| format!("http://{}:{port}", args.http.ip()));
        let mut banner = format!(
            "auditgraph {version}\n  admin page  {base}/auditlogs\n  Graph API   {base}/v1.0/deviceManagement/auditEvents  (and /beta)\n  GraphQL     {base}/graphql  (open it in a browser for the explorer)\n  HTTPS       {https_origin}/v1.0/deviceManagement/auditEvents\n  identity    {https_origin}/{tenant}/v2.0  ({tenants})\n",
            version = env!("CARGO_PKG_VERSION"),
            tenants = match &args.tenant_file {
                Some(file) => format!("tenant file {}", file.display()),
                None => "the development tenant: see README".to_string(),
            },
        );
        if let Some(ca) = &tls.ca_pem_path {
            banner.push_str(&format!(
                "  trust       {}  (SSL_CERT_FILE, REQUESTS_CA_BUNDLE or NODE_EXTRA_CA_CERTS)\n",
                ca.display()
            ));
        }
        banner.push_str(&format!(
            "  database    {db} ({backend})\n  retention   {days} days, max page size {page}\n",
            db = redact(&database_url),
            backend = state.store.backend_name(),
            days = args.retention_days,
            page = args.max_page_size,
        ));
        let throttle = emulator.throttle.config();
        banner.push_str(&format!(
            "  controls    {base}/_auditgraph/health  (admin API: {admin}); throttling {throttling}\n",
            admin = if args.emulator.admin_token.is_some() {
                "loopback, or the admin token"
            } else {
                "loopback only"
            },
            throttling = if throttle.enabled {
                format!("Intune's limits x{} per {} s", throttle.scale, throttle.window_seconds)
            } else {
                "off".to_string()
            },
        ));
        match eventhubs {
            Some((addr, fell_back)) => banner.push_str(&format!(
                "  event hubs  {}{}\n",
                crate::amqp::connection_string(addr, &args.routing.eventhubs_key),
                if fell_back {
                    format!(
                        "  ({DEFAULT_EVENTHUBS} is taken, often by RabbitMQ; --eventhubs ADDR chooses another)"
                    )
                } else {
                    String::new()
                }
            )),
            None => banner.push_str("  event hubs  off (--eventhubs 127.0.0.1:5672 to serve them)\n"),
        }
        if let Some(n) = seeded {
            banner.push_str(&format!(
                "  demo data   {n} events seeded into the empty store (--no-demo to skip)\n"
            ));
        }
        match args.auth {
            Switch::On => banner.push_str(&format!(
                "  token       curl -s {base}/{tenant}/oauth2/v2.0/token -d grant_type=client_credentials -d client_id=00000000-0000-0000-0000-00000000a001 -d client_secret=reader-secret -d scope=https://graph.microsoft.com/.default\n"
            )),
            Switch::Off => banner.push_str(
                "\n  !!! AUTH IS OFF: anyone who reaches this port may read and write every event.\n  !!! For quick exploration only; restart without --auth off for real tests.\n\n",
            ),
        }
        banner.push_str(&format!(
            "  try         curl '{base}/v1.0/deviceManagement/auditEvents?$top=2'{}\n  stop        Ctrl+C\n",
            if args.auth == Switch::On { " -H \"Authorization: Bearer $TOKEN\"" } else { "" }
        ));
        Ok(Application { port, https_port, eventhubs: eventhubs.map(|(a, _)| a), server, state, banner })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// Where the Event Hubs endpoint listens, when it is on.
    pub fn eventhubs_addr(&self) -> Option<std::net::SocketAddr> {
        self.eventhubs
    }

    pub fn banner(&self) -> &str {
        &self.banner
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// With a shared database, the instances' key files (signing key, paging key,
/// development CA) become the database's: each is created locally first if
/// missing, then offered; a flag that overrides one (`--paging-key`,
/// `--tls-cert`) keeps it out of sharing.
async fn share_secrets(store: &Store, data_dir: &std::path::Path, args: &ServeArgs) -> anyhow::Result<()> {
    use crate::data_dir::{DEV_CA, PAGING_KEY, SIGNING_KEY};
    crate::identity::keys::SigningKey::load_or_create(data_dir)?;
    let mut shared = vec![&SIGNING_KEY];
    if args.paging_key.is_none() {
        PagingKey::load_or_create(&data_dir.join("paging.key"))?;
        shared.push(&PAGING_KEY);
    }
    if args.tls_cert.is_none() {
        crate::tls::load_or_create_tls(data_dir, None)?;
        shared.push(&DEV_CA);
    }
    crate::data_dir::share_secrets(store, data_dir, &shared).await?;
    identity::rotation::adopt_rotated(store, data_dir).await
}

/// The Event Hubs endpoint's listener: the address asked for; when that is the
/// default and taken, any free port on the same interface (the banner says so).
async fn bind_eventhubs(
    listen: Listen,
) -> anyhow::Result<Option<(tokio::net::TcpListener, std::net::SocketAddr, bool)>> {
    let Listen(Some(addr)) = listen else { return Ok(None) };
    let (listener, fell_back) = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => (listener, false),
        Err(_) if addr.to_string() == DEFAULT_EVENTHUBS => {
            (tokio::net::TcpListener::bind((addr.ip(), 0)).await?, true)
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot listen on {addr} for Event Hubs (is the port taken? try --eventhubs 127.0.0.1:0, or off)")
            });
        }
    };
    let bound = listener.local_addr()?;
    Ok(Some((listener, bound, fell_back)))
}

/// The resource side's verifier: trusts the token service's key and an
/// external issuer's JWKS (to replay real Entra tokens), and resolves tenants
/// and Intune roles in the token service's directory.
fn verifier(
    identity: &IdentityService,
    trusted_jwks: Option<&std::path::Path>,
) -> anyhow::Result<TokenVerifier> {
    let mut keys = identity::rotation::trusted_keys(identity);
    if let Some(path) = trusted_jwks {
        keys.extend(crate::auth::load_jwks_file(path)?);
    }
    Ok(TokenVerifier::new(identity.directory().clone(), keys))
}

/// How often an instance says it is alive (`/_auditgraph/health` lists the
/// members seen within three heartbeats).
pub(crate) const HEARTBEAT_SECS: i64 = 5;

/// Records this instance's heartbeat now and every `HEARTBEAT_SECS`.
fn spawn_heartbeat(store: Store, address: String) {
    tokio::spawn(crate::store::uncounted(async move {
        let started = crate::domain::Ticks::from_datetime(chrono::Utc::now());
        let mut interval = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS as u64));
        loop {
            interval.tick().await;
            let now = crate::domain::Ticks::from_datetime(chrono::Utc::now());
            if let Err(e) = store.heartbeat(&address, started, now).await {
                tracing::warn!(error = %format!("{e:#}"), "heartbeat failed; will retry");
            }
        }
    }));
}

/// Purges events that left the retention window, now and then every `every`.
fn spawn_retention(state: web::Data<AppState>, every: Duration) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            match state.store.purge_before(state.retention_start()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "removed events older than the retention window"),
                Err(e) => tracing::warn!(error = ?e, "retention purge failed; will retry"),
            }
        }
    });
}
