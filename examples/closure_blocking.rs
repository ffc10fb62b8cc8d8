//! The closure API on the current thread, with ureq: a create answered 503,
//! 503, then 201 by the embedded fault-injecting API.
//!
//! ```text
//! cargo run --example closure_blocking --features ureq
//! ```

use steadfast::driver::blocking::retry;
use steadfast::driver::Sharing;
use steadfast::{Method, Policy, Request};
use steadfast_loopback::scenarios::contact_json;
use steadfast_loopback::{FakeApi, Fault};

fn main() {
    let api = FakeApi::start();
    api.script([Fault::status(503), Fault::status(503)]);
    let (url, body) = (api.url("/contacts"), contact_json("003A0001"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // The guide's policy a hundred times faster, so the demo waits 120 ms.
    let policy = Policy::seed_guide().scaled_down(100).expect("valid");

    // --- adoption: the retried call ---
    let create = Request::new(Method::Post).with_external_id();
    let result = retry(&policy, create, Sharing::Alone, |a| {
        let request = agent.post(&url).config().timeout_global(a.timeout).build();
        request.header("Authorization", "Bearer tok-0").send(&body)
    });
    // --- end ---

    match result {
        Ok(response) => println!("{} after {} attempts", response.status(), api.log().len()),
        Err(failure) => println!("gave up: {failure}"),
    }
}
