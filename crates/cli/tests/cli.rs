//! The `steadfast` command: both output formats snapshot-tested on the
//! example scenarios, and bad files answered with file, line, field and
//! exit status 2.

use std::path::Path;
use std::process::Command;

use steadfast::replay;
use steadfast_cli::{json_lines, load_policy, load_scenario, table};

fn trace(policy: &str, scenario: &str) -> steadfast::Trace {
    let policy = load_policy(policy).unwrap();
    let s = load_scenario(Path::new(scenario)).unwrap();
    replay(&policy, s.request, s.start(), s.seed, s.steps())
}

#[test]
fn table_and_json_lines() {
    let outage = trace("seed-guide", "scenarios/outage.json");
    insta::assert_snapshot!("outage_table", table(&outage));
    insta::assert_snapshot!("outage_json", json_lines(&outage));
    let token = trace("aws-standard", "scenarios/expired-token.toml");
    insta::assert_snapshot!("expired_token_aws_table", table(&token));
}

fn steadfast(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_steadfast"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("steadfast-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_binary_prints_and_exits_zero() {
    let (code, out, _) = steadfast(&["replay", "scenarios/outage.json"]);
    assert_eq!(code, 0);
    assert_eq!(out, table(&trace("seed-guide", "scenarios/outage.json")));
    let (code, out, _) = steadfast(&[
        "replay",
        "--json",
        "--policy",
        "urllib3",
        "scenarios/outage.json",
    ]);
    assert_eq!(code, 0);
    assert!(out
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
}

#[test]
fn bad_files_name_file_line_and_field_and_exit_2() {
    let bad_type = write("bad.json", "{\n  \"steps\": [\n    { \"status\": 503 },\n    { \"status\": \"five hundred\" }\n  ]\n}\n");
    let two_kinds = write(
        "two.toml",
        "[[steps]]\nstatus = 503\nnetwork = \"timeout\"\n",
    );
    let unknown = write(
        "unknown.toml",
        "seed = 1\n\n[[steps]]\nstatus = 200\nstatuss = 201\n",
    );
    let bad_policy = write(
        "policy.json",
        "{\"schedule\": {\"kind\": \"exponential\", \"base\": \"3s\", \"factor\": 0.5, \"cap\": \"5m\"}}",
    );
    let rows = [
        (
            vec!["replay", bad_type.as_str()],
            vec!["bad.json:4:", "steps[1].status", "invalid type"],
        ),
        (
            vec!["replay", two_kinds.as_str()],
            vec!["two.toml", "steps[0]", "exactly one of"],
        ),
        (
            vec!["replay", unknown.as_str()],
            vec!["unknown.toml:5:", "steps[0]", "statuss"],
        ),
        (
            vec![
                "replay",
                "--policy",
                bad_policy.as_str(),
                "scenarios/outage.json",
            ],
            vec!["policy.json", "schedule.factor"],
        ),
        (
            vec!["replay", "/no/such/file.json"],
            vec!["/no/such/file.json"],
        ),
        (
            vec!["simulate", "--capacity-from", "10s=0"],
            vec!["--capacity-from 10s=0", "SECONDS=CAPACITY"],
        ),
        (
            vec!["replay", "--policy", "nonsense", "scenarios/outage.json"],
            vec![
                "nonsense",
                "seed-guide, genesys-sdk, urllib3, aws-standard, aws-adaptive, recommended",
            ],
        ),
    ];
    for (args, wanted) in rows {
        let (code, out, err) = steadfast(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        for w in wanted {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
    }
}

#[test]
fn a_scenario_that_ends_first_says_so() {
    let short = write("short.json", "{\"steps\": [{\"status\": 503}]}");
    let (code, out, _) = steadfast(&["replay", short.as_str()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("the scenario ended before the call did"),
        "{out}"
    );
}

/// A short simulation prints its table and nothing on stderr: the progress
/// bar only appears on a terminal, after two seconds.
#[test]
fn a_short_simulation_prints_no_progress() {
    let (code, out, err) = steadfast(&["simulate", "--clients", "10", "--requests", "2"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.contains("all done"), "{out}");
}

/// Sizes the machine cannot hold are refused before the run, and so is an
/// SVG path that cannot be written.
#[test]
fn absurd_sizes_and_unwritable_svg_paths_are_refused_up_front() {
    let (code, out, err) = steadfast(&["simulate", "--clients", "4294967295"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("would need about") && err.contains("GiB"),
        "{err}"
    );
    let (code, out, err) = steadfast(&[
        "simulate",
        "--clients",
        "10",
        "--svg",
        "/no/such/dir/load.svg",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "refused before the run: {out}");
    assert!(err.contains("/no/such/dir/load.svg"), "{err}");
}

/// What the replay did not use as written is a warning on stderr; a step
/// the call did not ask for also makes the exit status 1.
#[test]
fn unused_misfit_and_backward_steps_are_warned_about() {
    let rows = [
        (
            // The call is done after the 200: two steps go unused.
            r#"{"steps": [{"status": 200}, {"status": 503}, {"status": 503}]}"#,
            0,
            "warning: 2 steps after the call ended (from steps[1]) went unused",
        ),
        (
            // A search result where a response is awaited.
            r#"{"steps": [{"status": 503}, {"search": "found"}]}"#,
            1,
            "warning: steps[1] does not fit: ",
        ),
        (
            r#"{"steps": [{"status": 503, "at": "10s"}, {"status": 200, "at": "5s"}]}"#,
            0,
            "warning: steps[1]: at 5s is before steps[0]'s 10s",
        ),
    ];
    for (i, (text, want_code, want)) in rows.into_iter().enumerate() {
        let file = write(&format!("warn{i}.json"), text);
        let (code, out, err) = steadfast(&["replay", file.as_str()]);
        assert_eq!(code, want_code, "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
        assert!(!out.is_empty(), "the trace is still printed");
    }
    // The example scenarios use every step as written under the policies
    // they were written for; under another, the leftovers are said.
    for (policy, scenario) in [
        ("seed-guide", "scenarios/outage.json"),
        ("seed-guide", "scenarios/expired-token.toml"),
    ] {
        let (code, _, err) = steadfast(&["replay", "--policy", policy, scenario]);
        assert_eq!((code, err.as_str()), (0, ""), "{scenario}");
    }
    let (code, _, err) = steadfast(&[
        "replay",
        "--policy",
        "aws-standard",
        "scenarios/outage.json",
    ]);
    assert_eq!(code, 0);
    assert!(err.contains("went unused"), "{err}");
}

mod simulate {
    use std::time::Duration;

    use steadfast_cli::simulate::{contenders, run, svg, table, Reject, Score, World};

    fn world(clients: u32, reject: Reject) -> World {
        World {
            clients,
            requests: 10,
            capacity: 50,
            reject,
            outages: vec![],
            capacity_from: vec![],
            latency: Duration::from_millis(50),
            seed: 1,
            processes: 1,
        }
    }

    fn scores(w: &World) -> Vec<Score> {
        contenders(w.processes).iter().map(|c| run(w, c)).collect()
    }

    /// Spread over four processes, limits shared by the fleet pace as one
    /// process would; limits per process each read the whole window, and
    /// find their share only from the 429s that follow (their adaptive
    /// rates), so they turn away twice as many.
    #[test]
    fn a_fleet_paces_as_one_where_processes_alone_do_not() {
        let w = World {
            processes: 4,
            ..world(100, Reject::Headers)
        };
        let s = scores(&w);
        let (alone, fleet) = (&s[3], &s[4]);
        assert_eq!(alone.name, "recommended: jitter+pacing+adaptive+budget");
        assert_eq!(fleet.name, "recommended, shared by the fleet");
        let single = &scores(&world(100, Reject::Headers))[3];
        assert_eq!(fleet.sent, single.sent, "one fleet paces as one process");
        assert!(
            alone.rejected > fleet.rejected * 2,
            "{} vs {}",
            alone.rejected,
            fleet.rejected
        );
        insta::assert_snapshot!("simulate_four_processes", table(&w, &s));
    }

    #[test]
    fn the_default_overload_table() {
        let w = world(100, Reject::Headers);
        insta::assert_snapshot!("simulate_default", table(&w, &scores(&w)));
    }

    #[test]
    fn the_recommended_policy_halves_the_load_and_is_done_no_later() {
        for seed in 1..=5 {
            let w = World {
                seed,
                ..world(100, Reject::Headers)
            };
            let s = scores(&w);
            let (guide, best) = (&s[0], &s[3]);
            assert_eq!(guide.name, "seed guide, no jitter");
            assert!(
                best.sent * 2 <= guide.sent,
                "seed {seed}: {} vs {}",
                best.sent,
                guide.sent
            );
            // The fleet is done no later, and the median request sooner;
            // pacing makes the slowest requests wait longer (their p99 and
            // max are not compared).
            assert!(best.all_done <= guide.all_done, "seed {seed}");
            assert!(
                best.latency[0] <= guide.latency[0],
                "seed {seed}: {:?} vs {:?}",
                best.latency,
                guide.latency
            );
            assert_eq!(best.done, u64::from(w.clients * w.requests));
            assert_eq!(best.gave_up, 0, "seed {seed}");
            let needed = u64::from(w.clients * w.requests);
            assert_eq!(best.sent - best.rejected, needed, "every request done once");
        }
    }

    /// A server that says nothing of its limits (a bare 503, or only
    /// `Retry-After`), and one that does, at 100 clients (capacity 50) and
    /// 1,000 (capacity 500), in one process and over four (each with its
    /// own limits, reading one window): the recommended policy finishes
    /// the work, at most 1.2 sends per request of work (1.3 over four
    /// processes) within 1.25 x work / capacity (1.3). Against
    /// `Retry-After` it also sends no more than aws-adaptive on the same
    /// run; against a bare 503 it sends a few percent more, for the sends
    /// that land in a window already spent (see docs/design.md).
    #[test]
    fn the_recommended_policy_finishes_the_work_when_the_server_says_nothing() {
        let pick = |processes| {
            let all = contenders(processes);
            let [rec, aws] = [
                "recommended: jitter+pacing+adaptive+budget",
                "aws-adaptive (quota + adaptive rate)",
            ]
            .map(|name| all.iter().position(|c| c.name == name).expect(name));
            (all, rec, aws)
        };
        for (clients, capacity, seeds) in [(100, 50, 1..=3), (1_000, 500, 1..=1)] {
            for processes in [1, 4] {
                let (all, rec, aws) = pick(processes);
                for reject in [Reject::Headers, Reject::RetryAfter, Reject::Unavailable] {
                    for seed in seeds.clone() {
                        let w = World {
                            seed,
                            capacity,
                            processes,
                            ..world(clients, reject)
                        };
                        let (best, aws) = (run(&w, &all[rec]), run(&w, &all[aws]));
                        let work = u64::from(w.clients * w.requests);
                        let ideal = Duration::from_secs(work / u64::from(w.capacity));
                        // Percent of the work in sends, and of the ideal in time.
                        let [most_sent, most_time]: [u32; 2] = if processes == 1 {
                            [120, 125]
                        } else {
                            [130, 130]
                        };
                        let why = format!(
                            "{reject:?} seed {seed}: {}",
                            table(&w, &[best.clone(), aws.clone()])
                        );
                        assert_eq!((best.done, best.gave_up), (work, 0), "{why}");
                        assert!(best.sent * 100 <= work * u64::from(most_sent), "{why}");
                        assert!(best.all_done * 100 <= ideal * most_time, "{why}");
                        if reject == Reject::RetryAfter && processes == 1 {
                            assert!(best.sent <= aws.sent, "{why}");
                        }
                    }
                }
            }
        }
    }

    /// The capacity drops from 50/s to 20/s at 10 s and comes back at 20 s:
    /// the recommended policy's rate follows it down within 4 s and back
    /// up within 8 s, and still finishes the work.
    #[test]
    fn the_recommended_rate_follows_the_capacity_down_and_back_up() {
        for reject in [Reject::RetryAfter, Reject::Unavailable] {
            let w = World {
                capacity_from: vec![(Duration::from_secs(10), 20), (Duration::from_secs(20), 50)],
                ..world(100, reject)
            };
            let s = scores(&w);
            let best = &s[3];
            let why = format!("{reject:?}: {}", table(&w, &s));
            assert_eq!((best.done, best.gave_up), (1_000, 0), "{why}");
            assert!(best.sent <= 1_200, "{why}");
            let [down, up] = best.settled[..] else {
                panic!("{why}")
            };
            assert!(down.is_some_and(|d| d <= Duration::from_secs(4)), "{why}");
            assert!(up.is_some_and(|d| d <= Duration::from_secs(8)), "{why}");
            // Without changes nothing is reported.
            assert!(scores(&world(100, reject))[3].settled.is_empty());
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_every_mode_runs() {
        for reject in [Reject::Headers, Reject::RetryAfter, Reject::Unavailable] {
            let w = World {
                outages: vec![(Duration::from_secs(3), Duration::from_secs(5))],
                ..world(60, reject)
            };
            assert_eq!(scores(&w), scores(&w), "{reject:?}");
        }
    }

    #[test]
    fn the_svg_draws_one_strip_per_policy() {
        // At 100 clients aws-standard's first second (900) passes the top.
        let w = world(100, Reject::Headers);
        let s = scores(&w);
        let picture = svg(&w, &s);
        assert!(picture.starts_with("<svg") && picture.trim_end().ends_with("</svg>"));
        for score in &s {
            assert!(picture.contains(score.name), "{}", score.name);
        }
        // One bar per second of load per policy, plus the background and
        // a black cap on every second above the scale's top (3x capacity).
        let bars: usize = s.iter().map(|r| r.load.len()).sum();
        let top = 3 * w.capacity;
        let over = s
            .iter()
            .flat_map(|r| r.load.iter())
            .filter(|&&v| v > top)
            .count();
        assert_eq!(picture.matches("<rect").count(), bars + 1 + over);
        assert!(over > 0, "a second above the top");
        // A peak above the top is written out, once per strip.
        for r in &s {
            let peak = r.load.iter().copied().max().unwrap_or(0);
            if peak > top {
                assert!(picture.contains(&format!(">{peak}/s</text>")), "{}", r.name);
            }
        }
        // The scale and the time axis.
        assert!(picture.contains(&format!(">{top}/s</text>")));
        assert!(picture.contains(">0 s</text>"));
    }
}
