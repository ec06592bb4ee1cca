//! auditgraph: a local emulator of the Microsoft Graph Intune audit log
//! (`/deviceManagement/auditEvents` on `/v1.0` and `/beta`).
//!
//! Requests enter through a door (`rest`, `graphql`, the admin page in `web`, the CLI in
//! `cli`), become one query model (`odata`), and reach the database only through `store`.
//! Every write goes through `audit::Recorder`. `identity` issues tokens, `auth` checks
//! them; `emulator` holds the test controls (admin API, throttling, faults, journal);
//! `workloads` is the emulated Intune whose every change writes its audit event;
//! `routing` delivers the log live to Azure Monitor destinations (its ARM door: `arm`);
//! `hubs` is the Event Hubs namespace it delivers to, served by the AMQP door (`amqp`).
//! See the README's design notes.

pub(crate) mod amqp;
pub(crate) mod arm;
pub(crate) mod audit;
pub(crate) mod auth;
pub mod cli;
pub(crate) mod clock;
pub mod config;
pub(crate) mod data_dir;
pub(crate) mod directory;
pub mod domain;
pub(crate) mod emulator;
pub(crate) mod error;
pub(crate) mod export;
#[cfg(test)]
mod fuzz;
pub mod graphql;
pub(crate) mod http;
pub(crate) mod hubs;
pub mod identity;
pub(crate) mod import;
pub mod odata;
pub(crate) mod paging;
pub(crate) mod rest;
pub(crate) mod routing;
pub(crate) mod seed;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub(crate) mod tls;
pub(crate) mod web;
pub(crate) mod workloads;
