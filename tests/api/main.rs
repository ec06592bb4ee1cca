//! The one integration-test binary: the real server on a loopback port, driven
//! over HTTP, on every configured backend.

mod helpers;

mod auth;
mod cli;
mod crud;
mod data;
mod emulator;
mod errors;
mod query;
mod surface;
