//! The main job: a batch of CRM contacts synced into an embedded,
//! fault-injecting contact API on 127.0.0.1, through the blocking driver,
//! under the source guide's policy at 1/100 of real time. One line per
//! request, then the summary.
//!
//! ```text
//! cargo run -p steadfast-contacts --example demo
//! ```

use steadfast_loopback as fake_api;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_api::{FakeApi, Fault};
use steadfast::driver::TokenStore;
use steadfast::Policy;
use steadfast_contacts::client::UreqContacts;
use steadfast_contacts::contact::{Contact, Phone};
use steadfast_contacts::sync::{sync_all, Summary, SyncOutcome};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Prints each driver record as one aligned line.
struct Lines(Instant);

#[derive(Default)]
struct Fields {
    method: String,
    endpoint: String,
    attempt: String,
    status: String,
    error: String,
    duration_ms: String,
    decision: String,
    remaining: String,
    observed: String,
    contact: String,
}

/// The external id of the contact a span's calls belong to.
struct ContactId(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.record_str(field, s.trim_matches('"'));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "method" => &mut self.method,
            "endpoint" => &mut self.endpoint,
            "attempt" => &mut self.attempt,
            "status" => &mut self.status,
            "error" => &mut self.error,
            "duration_ms" => &mut self.duration_ms,
            "decision" => &mut self.decision,
            "rate_limit_remaining" => &mut self.remaining,
            "observed" => &mut self.observed,
            "contact" => &mut self.contact,
            _ => return,
        };
        *slot = value.to_owned();
    }
}

impl<S> Layer<S> for Lines
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(ContactId(f.contact));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != tracing::Level::INFO {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let contact = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<ContactId>().map(|c| c.0.clone()))
            .unwrap_or_default();
        let seen = [f.status, f.error, f.observed]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let rate = if f.remaining.is_empty() {
            String::new()
        } else {
            format!("  (rate limit: {} left)", f.remaining)
        };
        println!(
            "{:>7.3}s  {:<8} {:<4} {:<18} #{:<2} {:<18} {:>4}ms  -> {}{rate}",
            self.0.elapsed().as_secs_f64(),
            contact,
            f.method,
            f.endpoint,
            f.attempt,
            seen,
            f.duration_ms,
            f.decision,
        );
    }
}

const NAMES: [(&str, &str); 24] = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Frances", "Allen"),
    ("", "Nameless"),
    ("John", "McCarthy"),
    ("Margaret", "Hamilton"),
    ("Ken", "Thompson"),
    ("Dennis", "Ritchie"),
    ("Radia", "Perlman"),
    ("Leslie", "Lamport"),
    ("Tony", "Hoare"),
    ("Niklaus", "Wirth"),
    ("Hedy", "Lamarr"),
    ("Claude", "Shannon"),
    ("Katherine", "Johnson"),
    ("Vint", "Cerf"),
    ("Bjarne", "Stroustrup"),
    ("Sophie", "Wilson"),
    ("Guido", "van Rossum"),
    ("Anita", "Borg"),
];

fn contacts() -> Vec<Contact> {
    NAMES
        .iter()
        .enumerate()
        .map(|(i, (first, last))| Contact {
            first_name: (*first).into(),
            last_name: (*last).into(),
            email: Some(if i == 12 {
                "radia at example.com".into()
            } else {
                format!("{}@example.com", first.to_lowercase())
            }),
            phone_numbers: vec![Phone {
                number: format!("+1415555{:04}", 100 + i),
                kind: if i == 19 { "FAX".into() } else { "WORK".into() },
            }],
            external_id: format!("003A{i:04}"),
        })
        .collect()
}

fn main() {
    let started = Instant::now();
    let subscriber = tracing_subscriber::registry().with(Lines(started));
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");

    let api = FakeApi::start();
    // Two contacts exist from an earlier run; then every fault once, then
    // a seeded random 30 %.
    api.preload(&["003A0003", "003A0016"]);
    api.script([
        Fault::status(503),
        Fault::status(503),
        Fault::Pass,
        Fault::with(429, &[("Retry-After", "1")]),
        Fault::Pass,
        Fault::with(
            429,
            &[
                ("X-Rate-Limit-Limit", "100"),
                ("X-Rate-Limit-Remaining", "0"),
                ("X-Rate-Limit-Reset", "1"),
            ],
        ),
        Fault::Pass,
        Fault::ExpireToken,
        Fault::Pass,
        Fault::status(504),
        Fault::Pass,
        Fault::StoreThenCloseMidResponse,
        Fault::Pass,
        Fault::SlowThenClose(Duration::from_millis(700)),
        Fault::Pass,
        Fault::status(400),
    ]);
    api.random_faults(
        42,
        0.3,
        vec![
            Fault::status(503),
            Fault::status(502),
            Fault::with(503, &[("Retry-After", "1")]),
            Fault::with(429, &[("RateLimit", "\"default\";r=0;t=1")]),
            Fault::StoreThenStall(Duration::from_millis(700)),
        ],
    );

    let mut policy = Policy::seed_guide()
        .scaled_down(100)
        .expect("scaled guide policy");
    policy = Policy::new(steadfast::PolicySpec {
        attempt_timeout: Some(Duration::from_millis(500)),
        ..policy.spec().clone()
    })
    .expect("valid");
    println!(
        "steadfast demo: {} contacts -> {}",
        NAMES.len(),
        api.url("/contacts")
    );
    println!(
        "policy: Policy::seed_guide(), the retry rules of the contact-center integration guide \
         (backoff 3 s, 9 s, 27 s, 300 s; a 401 refreshes the token once; a 409 searches by \
         external id), run at 1/100 of real time with a 0.5 s attempt timeout\n"
    );
    println!(
        "{:>8}  {:<8} {:<4} {:<18} {:<3} {:<18} {:>6}  -> decision",
        "time", "contact", "verb", "path", "try", "observed", "took"
    );

    let token = Arc::new(TokenStore::new("tok-0".to_owned()));
    let mut client = UreqContacts::new(api.url(""), token);
    let contacts = contacts();
    let reports = sync_all(&policy, &mut client, &contacts);

    println!("\nper contact:");
    for (c, r) in contacts.iter().zip(&reports) {
        let detail = match &r.outcome {
            SyncOutcome::Created(id) => format!("CREATED  {id}"),
            SyncOutcome::Exists(id) => format!("EXISTS   {id}"),
            SyncOutcome::Updated(id) => format!("UPDATED  {id}"),
            SyncOutcome::Skipped(p) => format!(
                "SKIPPED  {}",
                p.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            SyncOutcome::Failed { reason, last } => match last {
                Some(last) => format!("FAILED   {reason} (last: {last})"),
                None => format!("FAILED   {reason}"),
            },
        };
        println!(
            "  {} {:<22} {detail}",
            r.external_id,
            format!("{} {}", c.first_name, c.last_name)
        );
    }
    println!("\n{}", Summary::of(&reports));
    println!(
        "\nserver: {} records, {} token refresh(es); finished in {:.1}s",
        api.store().len(),
        api.refreshes(),
        started.elapsed().as_secs_f64()
    );
}
