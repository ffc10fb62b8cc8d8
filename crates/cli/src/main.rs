//! The `steadfast` command: replay a scenario through a policy, or simulate
//! a fleet of clients against an overloaded server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use steadfast::replay;
use steadfast_cli::simulate::{self, Reject, World};
use steadfast_cli::{json_lines, load_policy, load_scenario, table};

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
        /// seed-guide, genesys-sdk, urllib3, aws-standard, aws-adaptive, recommended, or a policy file
        /// (.json or .toml).
        #[arg(long, default_value = "seed-guide")]
        policy: String,
        /// The scenario file (.json or .toml).
        scenario: PathBuf,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Simulate many clients against an overloaded server and compare
    /// policies side by side, in simulated time.
    Simulate {
        /// Clients, all starting at once.
        #[arg(long, default_value_t = 100)]
        clients: u32,
        /// Requests each client must complete.
        #[arg(long, default_value_t = 10)]
        requests: u32,
        /// Requests the server accepts per second.
        #[arg(long, default_value_t = 50)]
        capacity: u32,
        /// A change of capacity, SECONDS=CAPACITY (repeatable, e.g. 10s=20):
        /// from then on the server accepts that many per second.
        #[arg(long)]
        capacity_from: Vec<String>,
        /// How the server rejects: headers (429 with X-Rate-Limit-*),
        /// retry-after (429 with Retry-After), 503.
        #[arg(long, default_value = "headers")]
        reject: String,
        /// An outage window in seconds, START..END (repeatable): every
        /// request gets a 503.
        #[arg(long)]
        outage: Vec<String>,
        /// Response time in milliseconds.
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        /// Seeds the clients' jitter.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also draw the server load per policy into this SVG file.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Processes the clients are spread over: shared limits are then
        /// per process, and the recommended policy also runs with limits
        /// shared by the whole fleet.
        #[arg(long, default_value_t = 1)]
        processes: u32,
    },
}

fn capacity_change(arg: &str) -> Option<(Duration, u32)> {
    let (at, capacity) = arg.split_once('=')?;
    let at = at.trim();
    let at: f64 = at.strip_suffix('s').unwrap_or(at).parse().ok()?;
    let capacity: u32 = capacity.trim().parse().ok()?;
    (capacity > 0).then_some((Duration::try_from_secs_f64(at).ok()?, capacity))
}

fn outage(arg: &str) -> Option<(Duration, Duration)> {
    let (a, b) = arg.split_once("..")?;
    let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    let a = Duration::try_from_secs_f64(a).ok()?;
    let b = Duration::try_from_secs_f64(b).ok()?;
    (a < b).then_some((a, b))
}

fn simulate(world: World, svg_path: Option<PathBuf>) -> ExitCode {
    let contenders = simulate::contenders(world.processes);
    let per_run = u64::from(world.clients) * u64::from(world.requests);
    // Drawn on stderr only once a run has taken two seconds: short runs
    // print their table and nothing else.
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(per_run * contenders.len() as u64),
        indicatif::ProgressDrawTarget::hidden(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} requests",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let shown = std::sync::Once::new();
    // The policies run side by side, as many at once as there are cores
    // and memory for (each needs its own clients).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let fits = simulate::MAX_BYTES / simulate::estimated_bytes(&world).max(1);
    let workers = cores
        .min(usize::try_from(fits).unwrap_or(usize::MAX))
        .clamp(1, contenders.len().max(1));
    let order = simulate::longest_first(&world, &contenders);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let scores = std::sync::Mutex::new(vec![None; contenders.len()]);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&k) = order.get(at) else {
                    break;
                };
                let c = &contenders[k];
                let mut told = 0;
                let score = simulate::run_with_progress(&world, c, &mut |finished| {
                    if started.elapsed() > Duration::from_secs(2) {
                        shown.call_once(|| {
                            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                        });
                    }
                    bar.inc(finished - told);
                    told = finished;
                });
                scores
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)[k] = Some(score);
            });
        }
    });
    let scores: Vec<_> = scores
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect();
    bar.finish_and_clear();
    print!("{}", simulate::table(&world, &scores));
    if let Some(path) = svg_path {
        if let Err(e) = std::fs::write(&path, simulate::svg(&world, &scores)) {
            eprintln!("steadfast: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
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
            for warning in scenario.warnings(&trace) {
                eprintln!("steadfast: warning: {warning}");
            }
            // A step the call did not ask for means the scenario and the
            // policy disagree: the trace stops short of the scenario's end.
            if trace.rejected.is_some() {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Command::Simulate {
            clients,
            requests,
            capacity,
            capacity_from,
            reject,
            outage: outages,
            latency_ms,
            seed,
            svg,
            processes,
        } => {
            let reject = match reject.as_str() {
                "headers" => Reject::Headers,
                "retry-after" => Reject::RetryAfter,
                "503" => Reject::Unavailable,
                other => {
                    eprintln!("steadfast: --reject {other}: expected headers, retry-after or 503");
                    return ExitCode::from(2);
                }
            };
            let mut windows = Vec::new();
            for o in &outages {
                match outage(o) {
                    Some(w) => windows.push(w),
                    None => {
                        eprintln!("steadfast: --outage {o}: expected START..END in seconds");
                        return ExitCode::from(2);
                    }
                }
            }
            let mut changes = Vec::new();
            for c in &capacity_from {
                match capacity_change(c) {
                    Some(change) => changes.push(change),
                    None => {
                        eprintln!(
                            "steadfast: --capacity-from {c}: expected SECONDS=CAPACITY, the capacity above zero"
                        );
                        return ExitCode::from(2);
                    }
                }
            }
            changes.sort_by_key(|&(at, _)| at);
            if clients == 0 || requests == 0 || capacity == 0 || processes == 0 {
                eprintln!(
                    "steadfast: --clients, --requests, --capacity and --processes must be above zero"
                );
                return ExitCode::from(2);
            }
            let world = World {
                clients,
                requests,
                capacity,
                capacity_from: changes,
                reject,
                outages: windows,
                latency: Duration::from_millis(latency_ms),
                seed,
                processes,
            };
            let need = simulate::estimated_bytes(&world);
            if need > simulate::MAX_BYTES {
                eprintln!(
                    "steadfast: {clients} clients x {requests} requests would need about {} GiB; \
                     at most {} GiB is allowed",
                    need >> 30,
                    simulate::MAX_BYTES >> 30
                );
                return ExitCode::from(2);
            }
            // A path that cannot be written fails now, not after the run.
            if let Some(path) = &svg {
                if let Err(e) = std::fs::File::create(path) {
                    eprintln!("steadfast: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
            simulate(world, svg)
        }
    }
}
