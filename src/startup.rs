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
use crate::clock::Clock;
use crate::config::ServeArgs;
use crate::paging::PagingKey;
use crate::rest;
use crate::state::AppState;
use crate::store::{Store, redact};

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    banner: String,
}

impl Application {
    pub async fn build(args: ServeArgs) -> anyhow::Result<Application> {
        let database_url = args.store.database_url();
        let store = Store::connect(&database_url).await?;
        store.migrate().await?;
        let clock = Clock::default();
        let seeded = if args.no_demo {
            None
        } else {
            crate::cli::seed_demo_if_empty(&store, &clock, args.demo_events).await?
        };
        let state = web::Data::new(AppState {
            recorder: Recorder::new(store.clone()),
            paging_key: PagingKey::load_or_create(&args.store.data_dir.join("paging.key"))?,
            store,
            clock,
            max_page_size: args.max_page_size,
            retention_days: args.retention_days,
            max_body_bytes: args.max_body_bytes,
            public_base_url: args.public_base_url.clone(),
        });

        let listener = TcpListener::bind(args.http)
            .with_context(|| format!("cannot listen on {} (is another auditgraph running? try --http 127.0.0.1:0)", args.http))?;
        let port = listener.local_addr()?.port();
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::default())
                .wrap(from_fn(rest::headers::graph_headers))
                .app_data(app_state.clone())
                .configure(rest::configure)
                .default_service(web::to(rest::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();

        spawn_retention(state.clone(), Duration::from_secs(args.purge_interval_secs));

        let host = args.http.ip();
        let base = args.public_base_url.clone().unwrap_or_else(|| format!("http://{host}:{port}"));
        let mut banner = format!(
            "auditgraph {version}\n  Graph API   {base}/v1.0/deviceManagement/auditEvents  (and /beta)\n  database    {db} ({backend})\n  retention   {days} days, max page size {page}\n",
            version = env!("CARGO_PKG_VERSION"),
            db = redact(&database_url),
            backend = state.store.backend_name(),
            days = args.retention_days,
            page = args.max_page_size,
        );
        if let Some(n) = seeded {
            banner.push_str(&format!("  demo data   {n} events seeded into the empty store (--no-demo to skip)\n"));
        }
        banner.push_str(&format!("  try         curl '{base}/v1.0/deviceManagement/auditEvents?$top=2'\n  stop        Ctrl+C\n"));
        Ok(Application { port, server, state, banner })
    }

    pub fn port(&self) -> u16 {
        self.port
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
