//! The tower seam around hyper-util's client: a create answered 503, 503,
//! then 201 by the embedded fault-injecting API.
//!
//! ```text
//! cargo run --example tower --features tower
//! ```

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_layer::Layer;
use tower_service::Service;

use steadfast::driver::tower::RetryLayer;
use steadfast::driver::RetryInfo;
use steadfast::Policy;
use steadfast_loopback::scenarios::contact_json;
use steadfast_loopback::{FakeApi, Fault};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let api = FakeApi::start();
    api.script([Fault::status(503), Fault::status(503)]);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    // The guide's policy a hundred times faster, so the demo waits 120 ms.
    let policy = Policy::seed_guide().scaled_down(100).expect("valid");

    // --- adoption: the service that retries ---
    let mut service = RetryLayer::new(policy).layer(client);
    // --- end ---

    let request = http::Request::post(api.url("/contacts"))
        .header("Authorization", "Bearer tok-0")
        .header("Idempotency-Key", "003A0001")
        .body(Full::new(Bytes::from(contact_json("003A0001"))))
        .expect("a valid request");
    match service.call(request).await {
        Ok(response) => {
            let info = response.extensions().get::<RetryInfo>().copied();
            println!("{} after {:?}", response.status(), info.map(|i| i.attempts));
        }
        Err(e) => println!("gave up: {e}"),
    }
}
