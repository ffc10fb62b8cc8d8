//! `steadfast` decides what to do when an HTTP API call fails: wait and
//! retry, honour the server's `Retry-After`, refresh the token once, look for
//! the record a conflict says exists, or give up and say why.
//!
//! Its core is sans-IO. A [`Call`] is told what happened — a status and
//! headers, a network error, a refresh or search result — together with a
//! [`Clock`] reading, and answers with the next [`Action`]. It never sleeps,
//! never reads a clock, never opens a socket and never draws from a global
//! RNG, so the same code serves blocking code, any async runtime, a custom
//! event loop, and a property test that replays an hour of failures in a
//! millisecond.
//!
//! # The driving loop
//!
//! ```
//! use std::time::Duration;
//! use steadfast::{Action, Call, Clock, Method, Outcome, Policy, Request};
//!
//! // Stand-ins for your HTTP client: this server fails twice, then works.
//! let mut responses = [503, 503, 200].into_iter();
//! let mut send = || responses.next().unwrap_or(200);
//!
//! let policy = Policy::seed_guide();
//! let mut clock = Clock::default(); // yours: an Instant and SystemTime reading
//! let request = Request::new(Method::Get);
//! let mut call = Call::new(&policy, request, clock, 42); // 42: the jitter seed
//! let done = loop {
//!     match call.poll(clock, None) {
//!         Action::Send { .. } => {
//!             let status = send();
//!             call.observe(Outcome::response(status, &[("retry-after", "2")]), clock, None)?;
//!         }
//!         Action::Sleep(d) => clock = clock.advanced(d), // really: sleep(d)
//!         Action::RefreshToken => { /* refresh, then observe Outcome::Refresh */ }
//!         Action::SearchExisting => { /* search, then observe Outcome::Search */ }
//!         end @ (Action::Done(_) | Action::GiveUp(_)) => break end,
//!     }
//! };
//! assert!(matches!(done, Action::Done(_)));
//! assert_eq!(clock.mono, Duration::from_secs(4)); // 503 honours Retry-After: 2 s twice
//! # Ok::<(), steadfast::OutcomeError>(())
//! ```
//!
//! # Where things are
//!
//! The state machine's types live at the root: [`Call`], what it is told
//! ([`Outcome`], [`Clock`], [`Request`]) and what it answers ([`Action`],
//! [`Reason`], [`Event`]); the knobs ([`PolicySpec`], validated into a
//! [`Policy`], with presets such as [`Policy::seed_guide`]); schedules and
//! jitter ([`Schedule`], [`Jitter`]); and [`replay()`], a scripted run in
//! virtual time. The namespaces are real ones:
//!
//! - [`headers`]: `Retry-After` and the rate-limit header dialects;
//! - [`limits`]: the state every call to one API shares, and its protocol;
//! - `driver` (features `blocking`, `tokio`, `http`, `reqwest`, `ureq`,
//!   `reqwest-middleware`, `tower`, `redis`): drivers that execute the
//!   actions (one `run` and one `retry` each, told where the limits live by
//!   a `Sharing`), client adapters, the middleware and tower seams, and
//!   limits a fleet shares through Redis;
//! - `testing` (feature `testing`): the property-testing kit.
//!
//! # Deviations from the source guide
//!
//! The guide contradicts itself in places; the presets follow its text (see
//! `docs/design.md` in the repository): the 4th retry waits 300 s (not 81 s), there are 4 retries
//! (not 4 attempts), and a 401 does lead to a refresh. A conflict search's
//! record id stays with the caller: the call only needs to know whether the
//! record was found, which keeps [`Action`] `Copy` and a call free of heap
//! allocations.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod action;
mod call;
mod classify;
#[cfg(any(feature = "blocking", feature = "tokio", feature = "http"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "blocking", feature = "tokio", feature = "http")))
)]
pub mod driver;
mod event;
pub mod headers;
pub mod limits;
mod outcome;
mod policy;
mod presets;
mod replay;
mod schedule;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use action::{Action, Completion, Reason};
pub use call::{Call, OutcomeError};
pub use event::{Basis, Event, Observed};
pub use headers::{HintNotes, Pressure, PressureThresholds, RateLimit};
pub use limits::{Limits, LimitsSpec};
pub use outcome::{Clock, Headers, Method, NetworkError, Outcome, Refresh, Request, Search};
pub use policy::{OnConflict, Policy, PolicyError, PolicySpec, RateLimitRule, Rule, StatusRetries};
pub use replay::{replay, Step, Trace};
pub use schedule::{Jitter, Schedule};

// The README's Rust blocks are compiled and run as doc tests, so the
// snippets a new user copies stay true.
#[cfg(all(
    doctest,
    feature = "reqwest",
    feature = "testing",
    feature = "tower",
    feature = "reqwest-middleware",
    feature = "redis"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
