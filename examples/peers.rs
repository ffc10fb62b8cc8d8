//! The same job the entry-point examples do — a create answered 503, 503,
//! then 201 by the embedded API — with reqwest-retry and with backon, for
//! the README's table of what adoption takes.
//!
//! ```text
//! cargo run --example peers --features reqwest
//! ```

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest_retry::policies::ExponentialBackoff;
use reqwest_retry::RetryTransientMiddleware;
use steadfast_loopback::scenarios::contact_json;
use steadfast_loopback::{FakeApi, Fault};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let api = FakeApi::start();
    let (url, body) = (api.url("/contacts"), contact_json("003A0001"));

    api.script([Fault::status(503), Fault::status(503)]);
    let policy = ExponentialBackoff::builder().build_with_max_retries(4);
    // --- adoption: reqwest-retry ---
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .build();
    // --- end ---
    let response = client
        .post(&url)
        .bearer_auth("tok-0")
        .header("Idempotency-Key", "003A0001")
        .body(body.clone())
        .send()
        .await;
    println!("reqwest-retry: {:?}", response.map(|r| r.status()));

    api.script([Fault::status(503), Fault::status(503)]);
    let (client, body) = (reqwest::Client::new(), contact_json("003A0002"));
    let send = || {
        client
            .post(&url)
            .bearer_auth("tok-0")
            .body(body.clone())
            .send()
    };
    // --- adoption: backon (a 503 must be turned into an error first) ---
    let create = || async { send().await?.error_for_status() };
    let backoff = ExponentialBuilder::default().with_min_delay(Duration::from_millis(30));
    let response = create.retry(backoff).sleep(tokio::time::sleep).await;
    // --- end ---
    println!("backon: {:?}", response.map(|r| r.status()));
}
