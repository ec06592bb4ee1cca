//! The admin center's Audit logs page, served at `/` and `/auditlogs`.
//!
//! The page is plain HTML, CSS and JavaScript in this folder, embedded in the
//! binary with `include_str!`: no build step, nothing fetched from the
//! internet. It signs users in through auditgraph's own identity platform
//! (authorization code + PKCE, same origin) and then calls the Graph routes
//! like any other client, with a bearer token. The only server-side help it
//! gets is:
//!
//! - the page itself, with the tenant and public client to sign in through
//!   written into it (so a tenant file works without editing the page);
//! - `GET /auditlogs/export`, which streams the current filter's events
//!   through the very serialisers `auditgraph export` uses, so a download
//!   equals the CLI's output byte for byte. It takes the same bearer token and
//!   applies the same read permission check as the Graph list.
//!
//! Register [`configure`] before the Graph routes: `/{version}/{tail}` would
//! otherwise take `/auditlogs/export`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

use crate::auth::Operation;
use crate::directory::well_known::dev;
use crate::domain::graph::ApiVersion;
use crate::error::ApiError;
use crate::export::{self, ExportFormat};
use crate::http::Caller;
use crate::identity::IdentityService;
use crate::odata::parse_filter;
use crate::state::AppState;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");
/// A 16×16 icon (one PNG inside an ICO), so browsers asking for
/// `/favicon.ico` get an icon instead of a 404.
const FAVICON: &[u8] = include_bytes!("favicon.ico");

/// The page's own assets only: scripts from anywhere else never run, and it
/// may not be framed (click-jacking the sign-in).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Events per store read and per Graph page in the JSON export, as the CLI's
/// default `--page-size`.
const EXPORT_PAGE_SIZE: u64 = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/auditlogs", web::get().to(page))
        .route("/auditlogs/app.js", web::get().to(app_js))
        .route("/auditlogs/app.css", web::get().to(app_css))
        .route("/auditlogs/export", web::get().to(export))
        .route("/favicon.ico", web::get().to(favicon));
}

/// The page, with its settings in a JSON data island (not executed, so the
/// CSP needs no inline-script exception).
async fn page(identity: web::Data<IdentityService>, state: web::Data<AppState>) -> HttpResponse {
    // The dev tenant's public client when it exists; otherwise a tenant file's
    // first public client, so a custom directory needs no page changes.
    let tenants = identity.directory().tenants();
    let public = tenants
        .iter()
        .flat_map(|t| t.apps.iter().filter(|a| a.public_client).map(move |a| (t, a)))
        .find(|(_, a)| a.client_id == dev::PUBLIC_CLIENT_ID)
        .or_else(|| {
            tenants.iter().flat_map(|t| t.apps.iter().filter(|a| a.public_client).map(move |a| (t, a))).next()
        });
    let config = json!({
        "auth": state.verifier.is_some(),
        "tenantId": public.map(|(t, _)| t.id.as_str()),
        "clientId": public.map(|(_, a)| a.client_id.as_str()),
        "version": env!("CARGO_PKG_VERSION"),
    });
    // `<` escaped so no value can close the script element.
    let island = config.to_string().replace('<', "\\u003c");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(INDEX_HTML.replace("{{CONFIG}}", &island))
}

async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body)
}

/// `GET /auditlogs/export?format=csv|graph|ndjson&$filter=…`: the events the
/// page lists for that filter (inside the retention window, as the list is),
/// oldest first, in `auditgraph export`'s format (beta objects, its default).
async fn export(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Caller::of(&req).authorize(&state, Operation::Read)?;
    let params: HashMap<String, String> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::bad_request("The query string is not valid form encoding."))?;
    let (format, content_type, extension) = match params.get("format").map(String::as_str) {
        Some("csv") => (ExportFormat::Csv, "text/csv; charset=utf-8", "csv"),
        Some("graph") => (ExportFormat::Graph, "application/json; charset=utf-8", "json"),
        Some("ndjson") => (ExportFormat::Ndjson, "application/x-ndjson; charset=utf-8", "ndjson"),
        _ => {
            return Err(ApiError::bad_request("format must be csv, graph or ndjson."));
        }
    };
    let filter = match params.get("$filter").map(|f| f.trim()).filter(|f| !f.is_empty()) {
        Some(text) => Some(parse_filter(text)?),
        None => None,
    };
    let pages = export::pages(state.store.clone(), filter, state.retention_start(), EXPORT_PAGE_SIZE);
    let chunks = export::chunks(pages, format, ApiVersion::Beta)?;
    // The first page is read before answering, so a store that fails at once
    // gets a proper 500; a failure later can only cut the download short
    // (logged here; the browser reports a failed download).
    let mut chunks = Box::pin(chunks);
    let first = chunks.next().await.transpose()?.unwrap_or_default();
    let rest = chunks.map(|chunk| {
        chunk.map(web::Bytes::from).map_err(|e| {
            tracing::error!(error = ?e, "export failed after its first page");
            actix_web::error::ErrorInternalServerError("export failed")
        })
    });
    let body = futures_util::stream::once(std::future::ready(Ok(web::Bytes::from(first)))).chain(rest);
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"auditlogs.{extension}\""),
        ))
        .streaming(body))
}
