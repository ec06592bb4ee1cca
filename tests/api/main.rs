//! The one integration-test binary: the real server on a loopback port, driven
//! over HTTP, on every configured backend, and the admin page driven in a
//! headless Chromium (`browser`: the admin page and the GraphQL explorer).

mod azurite;
mod browser;
mod helpers;

mod admin_page;
mod admin_page_details;
mod auth_graph;
mod cli;
mod cluster;
mod concurrency;
mod cors;
mod crash;
mod crud;
mod data;
mod emulator;
mod errors;
mod event_cache;
mod event_hubs;
mod event_hubs_routing;
mod graphql;
mod graphql_explorer;
mod graphql_spec;
mod graphql_subscriptions;
mod hostile;
mod identity_authorize;
mod identity_device_code;
mod identity_discovery;
mod identity_tenant_file;
mod identity_tls;
mod identity_token;
mod inputs;
mod query;
mod routing;
mod routing_faults;
mod scale_out;
mod soak;
mod surface;
mod workloads;
mod workloads_feeds;
mod workloads_sets;
