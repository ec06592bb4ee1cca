//! The one integration-test binary: the real server on a loopback port, driven
//! over HTTP, on every configured backend.

mod helpers;

mod cli;
mod crud;
mod errors;
mod query;
mod surface;
