//! The one integration-test binary: the real server on a loopback port, driven
//! over HTTP, on every configured backend.

mod helpers;

mod auth;
mod browser;
mod cli;
mod crud;
mod data;
mod errors;
mod graphql;
mod query;
mod surface;
