//! Retries for an existing reqwest client in a few lines: the tokio driver
//! runs the call, the adapter reads reqwest's responses and errors. Here
//! against the embedded fault-injecting API, which answers 503 and 429 first.
//!
//! ```text
//! cargo run --example reqwest_retry --features reqwest
//! ```

use steadfast::driver::Sharing;
use steadfast_loopback as fake_api;

use steadfast::driver::tokio::{run, AsyncHooks};
use steadfast::Completion;
use steadfast::{Method, NetworkError, Policy, Request};

/// One create, as the driver needs it.
struct Create<'a> {
    client: &'a reqwest::Client,
    url: String,
    body: &'static str,
}

impl AsyncHooks for Create<'_> {
    type Response = reqwest::Response;
    type Id = ();

    async fn send(&mut self, _attempt: u32) -> Result<reqwest::Response, NetworkError> {
        let request = self.client.post(&self.url).body(self.body);
        let request = request.header("Authorization", "Bearer tok-0");
        request.send().await.map_err(|e| NetworkError::from(&e))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let api = fake_api::FakeApi::start();
    api.script([
        fake_api::Fault::status(503),
        fake_api::Fault::with(429, &[("Retry-After", "1")]),
    ]);

    let client = reqwest::Client::new();
    let policy = Policy::seed_guide().scaled_down(100).expect("valid");
    let mut create = Create {
        client: &client,
        url: api.url("/contacts"),
        body: r#"{"firstName":"Ada","lastName":"Lovelace","externalId":"003A0001"}"#,
    };
    // A create carrying an external id is safe to retry.
    let request = Request::new(Method::Post).with_external_id();
    let run = run(&policy, request, Sharing::Alone, &mut create).await;
    match run.result {
        Ok(Completion::Success(r)) => println!(
            "{} after {} attempts, {:?} waiting",
            r.status(),
            run.attempts,
            run.waited
        ),
        Ok(_) => println!("the record already existed"),
        Err(f) => println!("gave up: {}", f.reason),
    }
}
