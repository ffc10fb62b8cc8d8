//! The closure API end to end, blocking (ureq) and async (reqwest), against
//! the loopback API and against sockets that misbehave on 127.0.0.1: the
//! 503, 503, 200 job, a give-up that names its cause, a silent server given
//! up on within the deadline, and both adapters reading the same failures
//! the same way.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use steadfast::driver::Sharing;
use steadfast::driver::{blocking, tokio as async_driver, Attempt};
use steadfast::{Method, NetworkError, Policy, Reason, Request};

use support::fake_api::{FakeApi, Fault};
use support::{check, closed_port, contact_json, plain_scenarios, policy, serve, Got};

const POST: Request = Request::new(Method::Post).with_external_id();

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .http_status_as_error(false)
            .build(),
    )
}

fn flaky_then_ok() -> FakeApi {
    let api = FakeApi::start();
    api.script([Fault::status(503), Fault::status(503)]);
    api
}

#[test]
fn blocking_503_503_201() {
    let api = flaky_then_ok();
    let (agent, url, body) = (agent(), api.url("/contacts"), contact_json("ext-1"));
    let response = blocking::retry(policy(), POST, Sharing::Alone, |a| {
        agent
            .post(&url)
            .config()
            .timeout_global(a.timeout)
            .build()
            .header("Authorization", "Bearer tok-0")
            .send(&body)
    })
    .expect("created after two 503s");
    assert_eq!(response.status(), 201);
    assert_eq!(api.log().len(), 3);
}

#[tokio::test]
async fn async_503_503_201() {
    let api = flaky_then_ok();
    let (client, url, body) = (
        reqwest::Client::new(),
        api.url("/contacts"),
        contact_json("ext-1"),
    );
    let response = async_driver::retry(&policy(), POST, Sharing::Alone, |_| {
        client
            .post(&url)
            .bearer_auth("tok-0")
            .body(body.clone())
            .send()
    })
    .await
    .expect("created after two 503s");
    assert_eq!(response.status(), 201);
    assert_eq!(api.log().len(), 3);
}

#[test]
fn a_give_up_names_the_last_error() {
    let url = format!("http://127.0.0.1:{}/contacts", closed_port());
    let agent = agent();
    let failure = blocking::retry(policy(), POST, Sharing::Alone, |_| {
        agent.post(&url).send("{}")
    })
    .unwrap_err();
    assert_eq!(failure.reason, Reason::RetriesExhausted { retries: 4 });
    let said = failure.to_string();
    assert!(said.starts_with("retries exhausted"), "{said}");
    assert!(said.contains("last error: "), "{said}");
    assert!(
        matches!(
            failure.error(),
            Some(ureq::Error::ConnectionFailed | ureq::Error::Io(_))
        ),
        "{:?}",
        failure.error()
    );
}

#[tokio::test]
async fn a_give_up_names_the_last_error_async() {
    let url = format!("http://127.0.0.1:{}/contacts", closed_port());
    let client = reqwest::Client::new();
    let failure = async_driver::retry(&policy(), POST, Sharing::Alone, |_| {
        client.post(&url).send()
    })
    .await
    .unwrap_err();
    assert_eq!(failure.reason, Reason::RetriesExhausted { retries: 4 });
    let said = failure.to_string();
    assert!(said.contains("last error: error sending request"), "{said}");
    assert!(failure.error().is_some_and(reqwest::Error::is_connect));
    // The error chain reaches the client's error.
    let source = std::error::Error::source(&failure).expect("a source");
    assert!(source.to_string().contains("error sending request"));
}

/// A listener that accepts every connection and never answers; it holds
/// the sockets until the test ends.
fn silent_server() -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/contacts", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let handle = thread::spawn(move || {
        let mut held = Vec::new();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (url, handle)
}

/// The default policy, scaled a thousandfold: a 30 ms attempt timeout, a
/// 1.8 s deadline, the guide's waits in milliseconds.
fn scaled_default() -> Policy {
    let p = Policy::seed_guide().scaled_down(1000).unwrap();
    assert_eq!(p.spec().attempt_timeout, Some(Duration::from_millis(30)));
    assert_eq!(p.spec().deadline, Some(Duration::from_millis(1800)));
    p
}

#[test]
fn a_silent_server_is_given_up_on_within_the_deadline() {
    let (url, _server) = silent_server();
    let agent = agent();
    let started = Instant::now();
    let failure = blocking::retry(scaled_default(), POST, Sharing::Alone, |a| {
        agent
            .post(&url)
            .config()
            .timeout_global(a.timeout)
            .build()
            .send("{}")
    })
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1800));
    assert_eq!(failure.reason, Reason::RetriesExhausted { retries: 4 });
    assert!(matches!(failure.error(), Some(ureq::Error::Timeout(_))));
}

#[tokio::test]
async fn a_silent_server_is_given_up_on_within_the_deadline_async() {
    let (url, _server) = silent_server();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let failure = async_driver::retry(&scaled_default(), POST, Sharing::Alone, |_| {
        client.post(&url).send()
    })
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1800));
    // The driver's timer cut the attempts: the closure's error never came.
    assert_eq!(failure.reason, Reason::RetriesExhausted { retries: 4 });
}

/// A server that reads a request and closes the connection without a
/// response.
fn closing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/contacts", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s): Result<TcpStream, _> = stream else {
                continue;
            };
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read(&mut [0u8; 4096]);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
        }
    });
    url
}

/// What each adapter makes of one failure, both on the same socket.
fn kinds(url: &str, timeout: Duration) -> (NetworkError, NetworkError) {
    let agent = agent();
    let blocking = {
        let result = agent
            .post(url)
            .config()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout / 2))
            .build()
            .send("{}")
            .and_then(|mut r| r.body_mut().read_to_vec().map(|_| r));
        match result.split() {
            Ok(r) => panic!("{url}: a response {}", r.status()),
            Err((kind, _)) => kind,
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reqwest = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout / 2)
            .build()
            .unwrap();
        let result = match client.post(url).body("{}").send().await {
            Ok(r) => r.bytes().await.map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => panic!("{url}: a whole response"),
            Err(e) => NetworkError::from(&e),
        }
    });
    (blocking, reqwest)
}

/// A listener whose accept queue is full: the kernel drops further
/// connection attempts, so connecting times out. It never accepts; the
/// connections filling it are held by the returned value.
fn full_backlog() -> (String, TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    // Linux queues backlog + 1 connections (std asks for 128); a few
    // timed-out attempts in a row mean the queue is full.
    let mut refused = 0;
    while refused < 3 && held.len() < 4096 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(20)) {
            Ok(s) => held.push(s),
            Err(_) => refused += 1,
        }
    }
    (format!("http://{addr}/"), listener, held)
}

#[test]
fn both_adapters_read_the_same_failures_the_same_way() {
    let (silent, _server) = silent_server();
    let (full, _listener, _held) = full_backlog();
    let rows = [
        (
            format!("http://127.0.0.1:{}/", closed_port()),
            NetworkError::ConnectionRefused,
        ),
        (
            "http://steadfast-test.invalid/".to_owned(),
            NetworkError::Dns,
        ),
        (silent, NetworkError::Timeout),
        (full, NetworkError::ConnectTimeout),
        (closing_server(), NetworkError::ConnectionReset),
        // Neither client is built with TLS here: https is a TLS failure,
        // which no retry fixes.
        (
            closing_server().replace("http://", "https://"),
            NetworkError::Tls,
        ),
    ];
    for (url, want) in rows {
        let (blocking, reqwest) = kinds(&url, Duration::from_millis(300));
        assert_eq!((blocking, reqwest), (want, want), "{url}");
    }
}

/// What a plain create ended in, as the scenarios state it.
fn got<R, E>(
    result: Result<R, steadfast::driver::Failure<R, E>>,
    status: impl Fn(&R) -> u16,
) -> Got {
    match result {
        Ok(r) if status(&r) == 201 => Got::Created,
        Ok(r) => panic!("a success with status {}", status(&r)),
        Err(f) => Got::Failed(f.reason.to_string()),
    }
}

#[test]
fn every_plain_scenario_blocking() {
    let agent = agent();
    for s in plain_scenarios() {
        let api = serve(&s);
        let (url, body) = (api.url("/contacts"), contact_json("ext-1"));
        let result = blocking::retry(policy(), POST, Sharing::Alone, |a| {
            agent
                .post(&url)
                .config()
                .timeout_global(a.timeout)
                .build()
                .header("Authorization", "Bearer tok-0")
                .send(&body)
        });
        check(&s, &api, got(result, |r| r.status().as_u16()));
    }
}

#[tokio::test]
async fn every_plain_scenario_async() {
    let client = reqwest::Client::new();
    for s in plain_scenarios() {
        let api = serve(&s);
        let (url, body) = (api.url("/contacts"), contact_json("ext-1"));
        let result = async_driver::retry(policy(), POST, Sharing::Alone, |_| {
            client
                .post(&url)
                .bearer_auth("tok-0")
                .body(body.clone())
                .send()
        })
        .await;
        check(&s, &api, got(result, |r| r.status().as_u16()));
    }
}

/// A closure may hand back a bare status-and-headers pair or an
/// `http::Response`: both are read as responses.
#[test]
fn bare_pairs_and_http_responses_are_attempts() {
    let mut statuses = [503u16, 503, 200].into_iter();
    let pair = blocking::retry(policy(), Request::new(Method::Get), Sharing::Alone, |_| {
        let status = statuses.next().unwrap_or(200);
        (status, vec![("Retry-After", "0")])
    })
    .unwrap();
    assert_eq!(pair.0, 200);
    let mut statuses = [429u16, 201].into_iter();
    let response = blocking::retry(policy(), Request::new(Method::Get), Sharing::Alone, |_| {
        let status = statuses.next().unwrap_or(201);
        http::Response::builder().status(status).body(()).unwrap()
    })
    .unwrap();
    assert_eq!(response.status(), 201);
}
