//! The event model and its shapes. `event` is the model itself; each wire shape
//! (Graph v1.0/beta JSON in `graph`, Azure Monitor records in `monitor`, CSV rows
//! in `csv`) is a pure function of it and lives beside it. Database rows are never a wire shape.
//! `object` is the emulated Intune workloads' object, kept whole by the store.

pub mod csv;
pub mod event;
pub mod graph;
pub mod monitor;
pub mod object;
pub mod vocabulary;

pub use event::*;
