//! The one integration-test binary: the real server on a loopback port, driven
//! over HTTP, on every configured backend.

mod browser;
mod helpers;

mod admin_page;
mod auth;
mod cli;
mod crud;
mod data;
mod errors;
mod query;
mod surface;
