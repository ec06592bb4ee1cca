//! auditgraph: a local emulator of the Microsoft Graph Intune audit log
//! (`/deviceManagement/auditEvents` on `/v1.0` and `/beta`).
//!
//! Requests enter through a door (`rest`, `graphql`, the admin page in `web`, the CLI in
//! `cli`), become one query model (`odata`), and reach the database only through `store`.
//! Every write goes through `audit::Recorder`. `identity` issues tokens, `auth` checks
//! them; `emulator` holds the test controls (admin API, throttling, faults, journal).
//! See the README's design notes.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub(crate) mod data_dir;
pub mod directory;
pub mod domain;
pub mod emulator;
pub mod error;
pub mod export;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod import;
pub mod odata;
pub mod paging;
pub mod rest;
pub mod seed;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod web;
