//! The `steadfast` command's work, as functions the binary calls and the
//! tests snapshot: loading policies and scenarios (with errors that name
//! the file, the line and the field), rendering traces, and simulating a
//! fleet. This library serves the command; it is not a stable API.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod files;
mod render;
pub mod simulate;

pub use files::{load_policy, load_scenario, FileError, ScenarioFile, PRESETS};
pub use render::{json_lines, table};
