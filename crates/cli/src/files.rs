//! Policy and scenario files, JSON or TOML by extension.

use core::fmt;
use core::time::Duration;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use steadfast::Policy;
use steadfast::Step;
use steadfast::Trace;
use steadfast::{Clock, Method, Request};

/// A file that could not be used: which file, where, which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The file.
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The field's path (`steps[2].status`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

/// A scenario: the request, the jitter seed, the wall clock at the start,
/// and the outcomes the call meets.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The request (default: a GET).
    #[serde(default = "default_request")]
    pub request: Request,
    /// The jitter seed.
    #[serde(default)]
    pub seed: u64,
    /// Wall clock at the start, Unix seconds (default 1,800,000,000).
    #[serde(default = "default_start")]
    pub start_unix: u64,
    /// The outcomes, in order (the file format is [`Step`]'s).
    pub steps: Vec<Step>,
}

fn default_request() -> Request {
    Request::new(Method::Get)
}

fn default_start() -> u64 {
    1_800_000_000
}

impl ScenarioFile {
    /// The clock the scenario starts at.
    pub fn start(&self) -> Clock {
        Clock::new(Duration::ZERO, Duration::from_secs(self.start_unix))
    }

    /// The steps, for the replayer.
    pub fn steps(&self) -> Vec<Step> {
        self.steps.clone()
    }

    /// What in the scenario the replay `trace` did not use as written: a
    /// step the call did not ask for (the replay stopped there), steps left
    /// over when the call ended, and `at` readings earlier than a previous
    /// step's (such a step arrives as soon as it is sent). One sentence each.
    pub fn warnings(&self, trace: &Trace) -> Vec<String> {
        let mut said = Vec::new();
        let mut latest: Option<(usize, Duration)> = None;
        for (i, step) in self.steps.iter().enumerate() {
            let at = match step {
                Step::Response { at: Some(t), .. } | Step::Network { at: Some(t), .. } => *t,
                _ => continue,
            };
            match latest {
                Some((j, before)) if at < before => said.push(format!(
                    "steps[{i}]: at {} is before steps[{j}]'s {}; it arrives as soon as it is sent",
                    humantime::format_duration(at),
                    humantime::format_duration(before)
                )),
                _ => latest = Some((i, at)),
            }
        }
        let used = trace.events.len();
        if let Some(e) = trace.rejected {
            said.push(format!("steps[{used}] does not fit: {e}"));
        } else if used < self.steps.len() {
            let left = self.steps.len() - used;
            said.push(format!(
                "{left} step{} after the call ended (from steps[{used}]) went unused",
                if left == 1 { "" } else { "s" }
            ));
        }
        said
    }
}

fn read(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|e| FileError {
        file: path.display().to_string(),
        line: None,
        field: None,
        message: e.to_string(),
    })
}

/// Parses JSON, or TOML for a `.toml` file, naming the field on failure.
fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, FileError> {
    let file = path.display().to_string();
    let toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if toml {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(&file, text, &e))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = Some(e.path().to_string()).filter(|p| p != ".");
            let inner = e.into_inner();
            FileError {
                line: inner.span().map(|s| line_of(text, s.start)),
                field,
                message: inner.message().to_owned(),
                file,
            }
        })
    } else {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = Some(e.path().to_string()).filter(|p| p != ".");
            let inner = e.into_inner();
            let message = inner.to_string();
            // serde_json appends " at line L column C": keep the line apart.
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.clone(), |(m, _)| m.to_owned());
            FileError {
                line: Some(inner.line()).filter(|&l| l > 0),
                field,
                message,
                file,
            }
        })
    }
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> FileError {
    FileError {
        file: file.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
        field: None,
        message: e.message().to_owned(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// The presets `--policy` names.
pub const PRESETS: [&str; 6] = [
    "seed-guide",
    "genesys-sdk",
    "urllib3",
    "aws-standard",
    "aws-adaptive",
    "recommended",
];

/// A preset by name (one of [`PRESETS`]) or a policy file (JSON, or TOML
/// by extension), validated. A name that is neither says which presets
/// there are.
pub fn load_policy(arg: &str) -> Result<Policy, FileError> {
    match arg {
        "seed-guide" => return Ok(Policy::seed_guide()),
        "genesys-sdk" => return Ok(Policy::genesys_sdk()),
        "urllib3" => return Ok(Policy::urllib3()),
        "aws-standard" => return Ok(Policy::aws_standard()),
        "aws-adaptive" => return Ok(Policy::aws_adaptive()),
        "recommended" => return Ok(Policy::recommended()),
        _ => {}
    }
    let path = Path::new(arg);
    if !path.exists() {
        return Err(FileError {
            file: arg.to_owned(),
            line: None,
            field: None,
            message: format!(
                "neither a preset ({}) nor a policy file",
                PRESETS.join(", ")
            ),
        });
    }
    parse(path, &read(path)?)
}

/// A scenario file (JSON, or TOML by extension), checked step by step.
pub fn load_scenario(path: &Path) -> Result<ScenarioFile, FileError> {
    parse(path, &read(path)?)
}
