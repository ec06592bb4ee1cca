//! The GraphQL explorer: GraphiQL with its React and graphql-ws bundles embedded in
//! the binary (installed from the npm registry at build time by `build.rs`), so it
//! works with no internet access. The page opens with example tabs and a Headers
//! editor for the `Authorization` header.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

const PAGE: &str = include_str!("explorer/index.html");

macro_rules! asset {
    ($name:literal) => {
        ($name, include_bytes!(concat!(env!("OUT_DIR"), "/explorer/assets/", $name)).as_slice())
    };
}

/// Every file under `/graphql/assets/`: (name, bytes).
const ASSETS: &[(&str, &[u8])] = &[
    asset!("graphiql.min.js"),
    asset!("graphiql.min.css"),
    asset!("react.production.min.js"),
    asset!("react-dom.production.min.js"),
    asset!("graphql-ws.min.js"),
];

pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (name, bytes) = ASSETS
        .iter()
        .find(|(name, _)| *name == file.as_str())
        .ok_or_else(|| ApiError::UnknownSegment(file.into_inner()))?;
    let content_type =
        if name.ends_with(".css") { "text/css; charset=utf-8" } else { "text/javascript; charset=utf-8" };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        // The bundles change only with a new build of the server.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(*bytes))
}

const INTRO: &str = "\
# auditgraph's GraphQL explorer: the same events, filters and permissions as the
# Graph API at /v1.0/deviceManagement/auditEvents.
#
# Signed in on the admin page (/auditlogs) in this tab? The Headers tab below
# already carries that token. Otherwise put one there as
# {\"Authorization\": \"Bearer eyJ…\"}; a token for the development tenant's reader app:
#   curl -s http://HOST/7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001/oauth2/v2.0/token \\
#     -d grant_type=client_credentials -d client_id=00000000-0000-0000-0000-00000000a001 \\
#     -d client_secret=reader-secret -d scope=https://graph.microsoft.com/.default
#
# Run with Ctrl+Enter; the other tabs show filters, paging, mutations and a live
# subscription. The Docs pane lists every type and field.
";

const RECENT: &str = "\
query RecentEvents {
  auditEvents(first: 10) {
    totalCount
    edges {
      cursor
      node {
        id
        activityDateTime
        displayName
        category
        activityResult
        actor { userPrincipalName applicationDisplayName }
        resources { displayName auditResourceType resourceId }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
";

const FILTERS: &str = "\
# `filter` takes OData $filter text, exactly as the REST API; `where` is typed.
# Given both, an event must match both.
query Filters {
  odata: auditEvents(
    filter: \"category eq 'Device' and activityResult ne 'Success'\"
    first: 5
  ) {
    nodes { id activityDateTime activityType activityResult }
  }
  typed: auditEvents(
    where: { category: \"Application\", activityDateTime: { from: \"2026-01-01T00:00:00Z\" } }
    orderBy: [{ field: ACTIVITY_DATE_TIME, direction: ASC }]
    first: 5
  ) {
    nodes { id activityDateTime activityType }
    pageInfo { hasNextPage endCursor }
  }
  auditCategories
}
";

const WRITE: &str = "\
# Needs a token with DeviceManagementApps.ReadWrite.All (the writer app).
mutation Record {
  createAuditEvent(input: {
    displayName: \"Delete MobileApp\"
    category: \"Application\"
    activityType: \"Delete MobileApp\"
    activityOperationType: \"Delete\"
    activityResult: \"Success\"
    correlationId: \"21e86a8c-3010-46a8-86b5-4580e432ff52\"
  }) {
    id activityDateTime actor { auditActorType applicationDisplayName }
  }
}
";

const LIVE: &str = "\
# New events as they are recorded, through any door (REST, GraphQL, import).
subscription Live {
  auditEventCreated(filter: \"category eq 'Application'\") {
    id activityDateTime displayName activityType
  }
}
";

pub fn page(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let auth_on = state.verifier.is_some();
    let origin = state.public_base_url.clone().unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    // No placeholder token (a made-up one only fails with "CompactToken parsing
    // failed"): the page fills in the admin page's signed-in token, if any.
    let headers = "{}";
    let intro = if auth_on {
        INTRO.replace("http://HOST", &origin)
    } else {
        "# Auth is off (--auth off): no token needed.\n".to_string()
    };
    let tab = |query: String| json!({"query": query, "headers": headers});
    let config = json!({
        "endpoint": "/graphql",
        "auth": auth_on,
        "headers": headers,
        "tabs": [tab(format!("{intro}\n{RECENT}")), tab(FILTERS.into()), tab(WRITE.into()), tab(LIVE.into())],
    });
    // Inside <script>, `</` would end the element early; JSON allows escaping `<`.
    let config = config.to_string().replace('<', "\\u003c");
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(PAGE.replace("{{CONFIG}}", &config))
}
