//! The reqwest-middleware seam: a create answered 503, 503, then 201 by the
//! embedded fault-injecting API.
//!
//! ```text
//! cargo run --example middleware --features reqwest-middleware
//! ```

use steadfast::driver::middleware::RetryMiddleware;
use steadfast::driver::RetryInfo;
use steadfast::Policy;
use steadfast_loopback::scenarios::contact_json;
use steadfast_loopback::{FakeApi, Fault};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), reqwest_middleware::Error> {
    let api = FakeApi::start();
    api.script([Fault::status(503), Fault::status(503)]);
    // The guide's policy a hundred times faster, so the demo waits 120 ms.
    let policy = Policy::seed_guide().scaled_down(100).expect("valid");

    // --- adoption: the client that retries ---
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(policy))
        .build();
    // --- end ---

    let response = client
        .post(api.url("/contacts"))
        .bearer_auth("tok-0")
        .header("Idempotency-Key", "003A0001")
        .body(contact_json("003A0001"))
        .send()
        .await?;
    let info = response.extensions().get::<RetryInfo>().copied();
    println!("{} after {:?}", response.status(), info.map(|i| i.attempts));
    Ok(())
}
