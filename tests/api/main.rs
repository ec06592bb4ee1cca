//! The one integration-test binary: the real server on a loopback port, driven
//! over HTTP, on every configured backend, and the admin page driven in a
//! headless Chromium (`browser`: the admin page and the GraphQL explorer).

mod browser;
mod helpers;

mod admin_page;
mod auth;
mod cli;
mod crud;
mod data;
mod emulator;
mod errors;
mod graphql;
mod hostile;
mod query;
mod surface;
