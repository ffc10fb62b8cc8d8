//! What the end-to-end tests share: a time-scaled policy, and one scenario
//! list every entry point must pass against the [`FakeApi`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use steadfast::{Policy, PolicySpec, Reason, Schedule};

use crate::{FakeApi, Fault};

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The guide's policy on a millisecond scale: every test stays fast.
pub fn policy() -> Policy {
    Policy::new(PolicySpec {
        schedule: Schedule::Explicit {
            delays: vec![ms(10), ms(20), ms(40), ms(80)],
        },
        retry_after_cap: ms(50),
        min_server_wait: ms(1),
        attempt_timeout: Some(ms(300)),
        rate_limit: steadfast::RateLimitRule {
            default_wait: ms(50),
            ..Default::default()
        },
        ..PolicySpec::default()
    })
    .expect("valid e2e policy")
}

/// The JSON body of a valid contact with external id `ext`.
pub fn contact_json(ext: &str) -> String {
    serde_json::json!({
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": format!("{ext}@example.com"),
        "phoneNumbers": [],
        "externalId": ext,
    })
    .to_string()
}

/// How a driven create ended, in terms every entry point can report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    /// The record was created.
    Created,
    /// The record already existed under this id.
    Exists(String),
    /// The call gave up, for this reason.
    Failed(String),
}

/// One situation the server plays, and what a client must make of it.
pub struct Scenario {
    /// What it is.
    pub name: &'static str,
    /// The faults, in order.
    pub faults: Vec<Fault>,
    /// External ids already stored when the scenario starts.
    pub preload: bool,
    /// How the create must end.
    pub want: Got,
    /// POSTs the server sees.
    pub posts: usize,
    /// Token refreshes the server sees.
    pub refreshes: u32,
}

fn epoch_in(secs: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now.as_secs() + secs).to_string()
}

fn date_in(secs: u64) -> String {
    httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(secs))
}

/// The scenario list both drivers must pass. The contact's external id is
/// always "ext-1"; with `preload` the server already holds it as "c-1".
pub fn scenarios() -> Vec<Scenario> {
    let created = |name, faults: Vec<Fault>, posts| Scenario {
        name,
        posts,
        faults,
        preload: false,
        want: Got::Created,
        refreshes: 0,
    };
    let exists_after = |name, fault: Fault| Scenario {
        name,
        faults: vec![fault],
        preload: false,
        // The first POST stored "c-1"; the retry's 409 search finds it.
        want: Got::Exists("c-1".into()),
        posts: 2,
        refreshes: 0,
    };
    let limited = |name, headers: Vec<(&str, String)>| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        created(name, vec![Fault::with(429, &headers)], 2)
    };
    vec![
        created(
            "503 without Retry-After",
            vec![Fault::status(503), Fault::status(503)],
            3,
        ),
        created(
            "503 with Retry-After",
            vec![Fault::with(503, &[("Retry-After", "1")])],
            2,
        ),
        created(
            "429 Retry-After seconds",
            vec![Fault::with(429, &[("Retry-After", "1")])],
            2,
        ),
        limited("429 Retry-After date", vec![("Retry-After", date_in(2))]),
        limited(
            "429 guide rate-limit headers",
            vec![
                ("X-Rate-Limit-Limit", "100".into()),
                ("X-Rate-Limit-Remaining", "0".into()),
                ("X-Rate-Limit-Reset", epoch_in(2)),
            ],
        ),
        limited(
            "429 X-RateLimit headers",
            vec![
                ("X-RateLimit-Remaining", "0".into()),
                ("X-RateLimit-Reset", epoch_in(2)),
            ],
        ),
        limited(
            "429 IETF headers",
            vec![
                ("RateLimit", "\"default\";r=0;t=1".into()),
                ("RateLimit-Policy", "\"default\";q=10;w=1".into()),
            ],
        ),
        limited(
            "429 Genesys headers",
            vec![
                ("inin-ratelimit-count", "300".into()),
                ("inin-ratelimit-allowed", "300".into()),
                ("inin-ratelimit-reset", "1".into()),
            ],
        ),
        Scenario {
            refreshes: 1,
            ..created(
                "401 until the token is refreshed",
                vec![Fault::ExpireToken],
                2,
            )
        },
        Scenario {
            name: "409 for an existing external id",
            faults: vec![],
            preload: true,
            want: Got::Exists("c-1".into()),
            posts: 1,
            refreshes: 0,
        },
        created(
            "slower than the attempt timeout",
            vec![Fault::SlowThenClose(ms(600))],
            2,
        ),
        exists_after(
            "connection closed mid-response",
            Fault::StoreThenCloseMidResponse,
        ),
        exists_after(
            "timeout after the record was stored",
            Fault::StoreThenStall(ms(600)),
        ),
        Scenario {
            name: "400 is not retried",
            faults: vec![Fault::status(400)],
            preload: false,
            want: Got::Failed(Reason::NotRetryable { status: 400 }.to_string()),
            posts: 1,
            refreshes: 0,
        },
        Scenario {
            name: "503 until retries run out",
            faults: vec![Fault::status(503); 5],
            preload: false,
            want: Got::Failed(Reason::RetriesExhausted { retries: 4 }.to_string()),
            posts: 5,
            refreshes: 0,
        },
    ]
}

/// The scenarios a plain request passes: those that need neither a token
/// refresh nor a conflict search. The closure API, the reqwest middleware
/// and the tower layer run these; the `Hooks` drivers run them all.
pub fn plain_scenarios() -> Vec<Scenario> {
    scenarios()
        .into_iter()
        .filter(|s| s.refreshes == 0 && !matches!(s.want, Got::Exists(_)))
        .collect()
}

/// Starts a server playing `s`.
pub fn serve(s: &Scenario) -> FakeApi {
    let api = FakeApi::start();
    if s.preload {
        api.preload(&["ext-1"]);
    }
    api.script(s.faults.clone());
    api
}

/// Checks what the server saw against the scenario.
pub fn check(s: &Scenario, api: &FakeApi, got: Got) {
    assert_eq!(got, s.want, "{}", s.name);
    let posts = api
        .log()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/contacts")
        .count();
    assert_eq!(posts, s.posts, "{}: POSTs seen", s.name);
    assert_eq!(api.refreshes(), s.refreshes, "{}: refreshes", s.name);
    let stored = api.store();
    if matches!(s.want, Got::Failed(_)) {
        assert!(stored.is_empty(), "{}: nothing stored", s.name);
    } else {
        assert_eq!(stored.len(), 1, "{}: exactly one record", s.name);
        assert!(stored.contains_key("ext-1"), "{}", s.name);
    }
}

/// A port with nothing listening on 127.0.0.1.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
