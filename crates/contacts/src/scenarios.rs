//! The source guide's situations as scripted scenarios: what the demo
//! prints, what the trace snapshots pin, and a starting point for your own.

use core::time::Duration;

use steadfast::{
    replay, Clock, Method, NetworkError, Policy, Refresh, Request, Search, Step, Trace,
};

/// The clock every scenario starts at: monotonic zero, wall clock
/// 2027-01-15 08:00:00 UTC (Unix 1,800,000,000).
pub const START: Clock = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));

/// The seed every scenario's jitter uses.
pub const SEED: u64 = 0x5eed;

/// A named script: a policy, a request and the outcomes it meets.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A short name (file-name safe).
    pub name: &'static str,
    /// What it shows.
    pub about: &'static str,
    /// The policy the call runs under.
    pub policy: Policy,
    /// The request.
    pub request: Request,
    /// The outcomes, in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Replays it from [`START`] with [`SEED`].
    pub fn run(&self) -> Trace {
        replay(
            &self.policy,
            self.request,
            START,
            SEED,
            self.steps.iter().cloned(),
        )
    }
}

fn s(status: u16) -> Step {
    Step::status(status)
}

fn scenario(
    name: &'static str,
    about: &'static str,
    request: Request,
    steps: Vec<Step>,
) -> Scenario {
    Scenario {
        name,
        about,
        policy: Policy::seed_guide(),
        request,
        steps,
    }
}

/// Every scenario, under the `seed_guide` policy unless named otherwise.
pub fn all() -> Vec<Scenario> {
    let get = Request::new(Method::Get);
    let create = Request::new(Method::Post).with_external_id();
    let post = Request::new(Method::Post);
    let reset = |name: &str, value: &str| {
        s(429)
            .header(&format!("{name}-Limit"), "100")
            .header(&format!("{name}-Remaining"), "0")
            .header(&format!("{name}-Reset"), value)
    };
    vec![
        scenario(
            "503_x3_then_200",
            "three 503s back off 3 s, 9 s, 27 s; the fourth send succeeds",
            get,
            vec![s(503), s(503), s(503), s(200)],
        ),
        scenario(
            "429_retry_after_seconds",
            "429 with Retry-After: 120 waits 120 s",
            get,
            vec![s(429).header("Retry-After", "120"), s(200)],
        ),
        scenario(
            "429_retry_after_date",
            "429 with Retry-After as an HTTP-date two minutes ahead waits 120 s",
            get,
            vec![
                s(429).header("Retry-After", "Fri, 15 Jan 2027 08:02:00 GMT"),
                s(200),
            ],
        ),
        scenario(
            "429_reset_guide_dialect",
            "429 with only the guide's X-Rate-Limit-* headers waits until the epoch reset",
            get,
            vec![reset("X-Rate-Limit", "1800000045"), s(200)],
        ),
        scenario(
            "429_reset_x_ratelimit",
            "429 with only X-RateLimit-* (GitHub spelling) waits until the epoch reset",
            get,
            vec![reset("X-RateLimit", "1800000030"), s(200)],
        ),
        scenario(
            "429_reset_ietf_fields",
            "429 with only RateLimit-Limit/-Remaining/-Reset waits the seconds-until reset",
            get,
            vec![reset("RateLimit", "20"), s(200)],
        ),
        scenario(
            "429_reset_ietf_structured",
            "429 with only the structured RateLimit / RateLimit-Policy fields",
            get,
            vec![
                s(429)
                    .header("RateLimit-Policy", "\"default\";q=100;w=60")
                    .header("RateLimit", "\"default\";r=0;t=25"),
                s(200),
            ],
        ),
        scenario(
            "429_reset_genesys",
            "429 with only Genesys Cloud's inin-ratelimit-* headers",
            get,
            vec![
                s(429)
                    .header("inin-ratelimit-count", "300")
                    .header("inin-ratelimit-allowed", "300")
                    .header("inin-ratelimit-reset", "35"),
                s(200),
            ],
        ),
        scenario(
            "429_nothing_usable",
            "429 with an unusable Retry-After and no reset waits the 60 s default",
            get,
            vec![s(429).header("Retry-After", "-1"), s(200)],
        ),
        scenario(
            "401_then_200",
            "401 refreshes the token and re-sends at once",
            get,
            vec![s(401), Step::Refresh(Refresh::Refreshed), s(200)],
        ),
        scenario(
            "401_twice",
            "a second 401 after a refresh gives up: re-authentication required",
            get,
            vec![s(401), Step::Refresh(Refresh::Refreshed), s(401)],
        ),
        scenario(
            "409_found",
            "409 on a create searches by external id and finds the record",
            create,
            vec![s(409), Step::Search(Search::Found(()))],
        ),
        scenario(
            "409_not_found_then_201",
            "409, the search finds nothing, the create is re-sent once and succeeds",
            create,
            vec![s(409), Step::Search(Search::NotFound), s(201)],
        ),
        scenario(
            "timeout_post_with_external_id",
            "a timed-out create with an external id is retried (a 409 would catch a duplicate)",
            create,
            vec![
                Step::network(NetworkError::Timeout).after(Duration::from_secs(30)),
                s(201),
            ],
        ),
        scenario(
            "timeout_post_without_external_id",
            "a timed-out POST without an external id or key is not repeated",
            post,
            vec![Step::network(NetworkError::Timeout).after(Duration::from_secs(30))],
        ),
        scenario(
            "give_up_after_4th_retry",
            "five 503s: 3 s, 9 s, 27 s, 300 s, then give up",
            get,
            vec![s(503), s(503), s(503), s(503), s(503)],
        ),
        Scenario {
            name: "deadline_cut",
            about: "a 2-minute deadline: the 300 s wait would cross it, so the call gives up",
            policy: Policy::seed_guide().with_deadline(Duration::from_secs(120)),
            request: get,
            steps: vec![s(502), s(500), s(504), s(503)],
        },
        Scenario {
            name: "genesys_sdk_20_minutes_of_503",
            about: "genesys_sdk() against 503s for 20 minutes, then a 200",
            policy: Policy::genesys_sdk(),
            request: get,
            steps: genesys_outage(),
        },
    ]
}

/// 503s with a one-second response time until 20 minutes have passed on a
/// genesys_sdk() schedule, then a 200.
fn genesys_outage() -> Vec<Step> {
    let policy = Policy::genesys_sdk();
    let took = Duration::from_secs(1);
    let mut t = Duration::ZERO;
    let mut steps = Vec::new();
    let mut step = 0u32;
    while t < Duration::from_secs(20 * 60) {
        steps.push(s(503).after(took));
        t += took;
        t += policy.spec().schedule.delay(step, t);
        step += 1;
    }
    steps.push(s(200).after(took));
    steps
}
