//! The `steadfast` command: replay a scenario through a policy.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use steadfast::cli::{json_lines, load_policy, load_scenario, table};
use steadfast::replay;

/// Ask "what would the policy do if...".
#[derive(Parser)]
#[command(name = "steadfast", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a scenario (a list of observed outcomes) through a policy and
    /// print the decision trace.
    Replay {
        /// seed-guide, genesys-sdk, urllib3, aws-standard, or a policy file
        /// (.json or .toml).
        #[arg(long, default_value = "seed-guide")]
        policy: String,
        /// The scenario file (.json or .toml).
        scenario: PathBuf,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let Args { command } = Args::parse();
    match command {
        Command::Replay {
            policy,
            scenario,
            json,
        } => {
            let loaded = load_policy(&policy).and_then(|p| Ok((p, load_scenario(&scenario)?)));
            let (policy, scenario) = match loaded {
                Ok(both) => both,
                Err(e) => {
                    eprintln!("steadfast: {e}");
                    return ExitCode::from(2);
                }
            };
            let trace = replay(
                &policy,
                scenario.request,
                scenario.start(),
                scenario.seed,
                scenario.steps(),
            );
            print!(
                "{}",
                if json {
                    json_lines(&trace)
                } else {
                    table(&trace)
                }
            );
            ExitCode::SUCCESS
        }
    }
}
