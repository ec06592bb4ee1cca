//! The event model and its shapes. `event` is the model itself; each wire shape
//! (Graph v1.0/beta JSON, later Azure Monitor records and CSV) is a pure function
//! of it and lives beside it. Database rows are never a wire shape.

pub mod event;
pub mod graph;
pub mod vocabulary;

pub use event::*;
