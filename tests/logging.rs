//! The drivers' tracing records: every event logged with its fields, request
//! bodies cut to 200 characters, and no token or Authorization value ever.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use steadfast::driver::blocking::{run, Hooks};
use steadfast::driver::Reply;
use steadfast::driver::Sharing;
use steadfast::{Limits, Method, NetworkError, Policy, PolicySpec, Request, Schedule};

struct Scripted {
    replies: Vec<Reply>,
    body: Vec<u8>,
    endpoint: &'static str,
}

impl Hooks for Scripted {
    type Response = Reply;
    type Id = String;
    fn send(&mut self, _: u32, _: Option<Duration>) -> Result<Reply, NetworkError> {
        Ok(self.replies.remove(0))
    }
    fn endpoint(&self) -> &str {
        self.endpoint
    }
    fn body(&self) -> Option<&[u8]> {
        Some(&self.body)
    }
}

fn reply(status: u16, headers: &[(&str, &str)]) -> Reply {
    Reply {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: Vec::new(),
    }
}

/// Runs `f` under a subscriber that records DEBUG and up; returns the log.
fn captured(f: impl FnOnce()) -> String {
    support::captured(f).1
}
#[test]
fn every_event_is_a_record_without_secrets() {
    let policy = Policy::new(PolicySpec {
        schedule: Schedule::Explicit {
            delays: vec![Duration::from_millis(1)],
        },
        min_server_wait: Duration::from_millis(1),
        ..PolicySpec::default()
    })
    .unwrap();
    let secret = [
        ("Authorization", "Bearer SECRET-1"),
        ("Set-Cookie", "s=SECRET-2"),
    ];
    let mut hooks = Scripted {
        replies: vec![
            reply(503, &secret),
            reply(
                429,
                &[
                    ("Retry-After", "0"),
                    ("X-Rate-Limit-Remaining", "0"),
                    ("Cookie", "SECRET-3"),
                ],
            ),
            reply(200, &secret),
        ],
        // 150 'a's, then 'b's: the cut falls inside the b's.
        body: [vec![b'a'; 150], vec![b'b'; 350]].concat(),
        endpoint: "/contacts",
    };
    let log = captured(|| {
        let run = run(
            &policy,
            Request::new(Method::Post).with_external_id(),
            Sharing::Alone,
            &mut hooks,
        );
        assert!(run.result.is_ok());
        assert_eq!(run.attempts, 3);
    });
    let decisions: Vec<&str> = log.lines().filter(|l| l.contains("INFO")).collect();
    assert_eq!(decisions.len(), 3, "{log}");
    for field in [
        "method=\"POST\"",
        "endpoint=\"/contacts\"",
        "attempt=1",
        "status=503",
        "duration_ms=",
        "decision=sleep 1ms",
        "wait_ms=1",
    ] {
        assert!(decisions[0].contains(field), "{field} in {}", decisions[0]);
    }
    assert!(
        decisions[1].contains("rate_limit_remaining=0"),
        "{}",
        decisions[1]
    );
    assert!(
        decisions[1].contains("basis=Retry-After"),
        "{}",
        decisions[1]
    );
    assert!(
        decisions[2].contains("decision=done: success (200)"),
        "{}",
        decisions[2]
    );
    let attempts: Vec<&str> = log.lines().filter(|l| l.contains("DEBUG")).collect();
    assert_eq!(attempts.len(), 3);
    let body = attempts[0].split("body=").nth(1).unwrap();
    assert_eq!(body.matches('b').count(), 50, "{body}");
    assert!(!log.contains("SECRET"), "{log}");
}

#[test]
fn endpoints_are_logged_without_userinfo_or_query_values() {
    let mut hooks = Scripted {
        replies: vec![reply(200, &[])],
        body: Vec::new(),
        endpoint:
            "https://sync:SECRET-4@api.example/contacts?access_token=SECRET-5&page=2#SECRET-6",
    };
    let log = captured(|| {
        let run = run(
            Policy::seed_guide(),
            Request::new(Method::Get),
            Sharing::Alone,
            &mut hooks,
        );
        assert!(run.result.is_ok());
    });
    assert_eq!(log.lines().count(), 2, "{log}");
    for line in log.lines() {
        assert!(
            line.contains(
                "endpoint=\"https://api.example/contacts?access_token=REDACTED&page=REDACTED\""
            ),
            "{line}"
        );
    }
    assert!(!log.contains("SECRET"), "{log}");
}

/// A wait the shared limits impose before a send (here: pacing to the reset
/// of a window the server said was exhausted) is a decision of its own and
/// logged once; the send that follows it is not.
#[test]
fn a_wait_the_limits_impose_is_logged_once() {
    // The guide's policy at 1/10,000: the cap on a server's wait is 30 ms,
    // so the window's 20 ms are waited out whole.
    let policy = Policy::seed_guide().scaled_down(10_000).unwrap();
    let limits = Mutex::new(Limits::new(&policy));
    let exhausted = [
        ("RateLimit-Limit", "10"),
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Reset", "0.02"),
    ];
    let hooks = |replies| Scripted {
        replies,
        body: Vec::new(),
        endpoint: "/contacts",
    };
    // Under a subscriber as well: tracing caches, process-wide, whether a
    // log line is wanted by the first thread to reach it; a thread with no
    // subscriber would silence the line for the other tests here.
    captured(|| {
        let first = run(
            &policy,
            Request::new(Method::Get),
            &limits,
            &mut hooks(vec![reply(200, &exhausted)]),
        );
        assert!(first.result.is_ok());
    });
    let log = captured(|| {
        let run = run(
            &policy,
            Request::new(Method::Get),
            &limits,
            &mut hooks(vec![reply(200, &[])]),
        );
        assert!(run.result.is_ok());
        assert_eq!(run.attempts, 1);
    });
    let decisions: Vec<&str> = log.lines().filter(|l| l.contains("INFO")).collect();
    assert_eq!(decisions.len(), 2, "{log}");
    assert!(decisions[0].contains("decision=sleep"), "{}", decisions[0]);
    assert!(decisions[0].contains("basis=limits"), "{}", decisions[0]);
    assert!(
        decisions[1].contains("decision=done: success (200)"),
        "{}",
        decisions[1]
    );
}

/// Hooks that say nothing of their request log an empty endpoint and no
/// body; a call that gave up on a status hands back that last response, one
/// that gave up on an error hands back the error.
#[test]
fn bare_hooks_log_no_endpoint_or_body_and_a_failure_keeps_the_last_answer() {
    struct Bare(Vec<Result<Reply, NetworkError>>);
    impl Hooks for Bare {
        type Response = Reply;
        type Id = String;
        fn send(&mut self, _: u32, _: Option<Duration>) -> Result<Reply, NetworkError> {
            self.0.remove(0)
        }
    }
    let log = captured(|| {
        let failure = run(
            Policy::seed_guide(),
            Request::new(Method::Get),
            Sharing::Alone,
            &mut Bare(vec![Ok(reply(404, &[]))]),
        )
        .result
        .unwrap_err();
        assert_eq!(failure.response().map(|r| r.status), Some(404));
        assert!(failure.error().is_none());
        let failure = run(
            Policy::seed_guide(),
            Request::new(Method::Get),
            Sharing::Alone,
            &mut Bare(vec![Err(NetworkError::Tls)]),
        )
        .result
        .unwrap_err();
        assert_eq!(failure.error(), Some(&NetworkError::Tls));
        assert!(failure.response().is_none());
    });
    assert_eq!(log.lines().count(), 4, "{log}");
    for line in log.lines() {
        assert!(line.contains("endpoint=\"\""), "{line}");
        assert!(!line.contains("body="), "{line}");
    }
}
