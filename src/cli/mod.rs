//! The `steadfast` command's work, as functions the binary calls and the
//! tests snapshot: loading policies and scenarios (with errors that name
//! the file, the line and the field) and rendering traces.

mod files;
mod render;
pub mod simulate;

pub use files::{load_policy, load_scenario, FileError, ScenarioFile, StepSpec};
pub use render::{json_lines, table};
