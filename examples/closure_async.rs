//! The closure API on tokio, with reqwest: a create answered 503, 503, then
//! 201 by the embedded fault-injecting API.
//!
//! ```text
//! cargo run --example closure_async --features reqwest
//! ```

use steadfast::driver::tokio::retry;
use steadfast::driver::Sharing;
use steadfast::{Method, Policy, Request};
use steadfast_loopback::scenarios::contact_json;
use steadfast_loopback::{FakeApi, Fault};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let api = FakeApi::start();
    api.script([Fault::status(503), Fault::status(503)]);
    let (url, body) = (api.url("/contacts"), contact_json("003A0001"));
    let client = reqwest::Client::new();
    // The guide's policy a hundred times faster, so the demo waits 120 ms.
    let policy = Policy::seed_guide().scaled_down(100).expect("valid");

    let send = |_| {
        client
            .post(&url)
            .bearer_auth("tok-0")
            .body(body.clone())
            .send()
    };

    // --- adoption: the retried call ---
    let create = Request::new(Method::Post).with_external_id();
    let result = retry(&policy, create, Sharing::Alone, send).await;
    // --- end ---

    match result {
        Ok(response) => println!("{} after {} attempts", response.status(), api.log().len()),
        Err(failure) => println!("gave up: {failure}"),
    }
}
