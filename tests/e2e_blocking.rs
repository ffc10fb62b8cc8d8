//! The blocking driver against a real HTTP server on 127.0.0.1 (the
//! loopback API), through ureq: hooks that panic through shared limits, and
//! `http` header maps read in place. The shared scenario list runs through
//! the blocking driver in `crates/contacts/tests/e2e_sync.rs`.

mod support;

#[test]
fn http_header_maps_are_read_in_place() {
    use steadfast::driver::Response;
    let response = http::Response::builder()
        .status(503)
        .header("Retry-After", "7")
        .header("X-RateLimit-Remaining", "3")
        .body(())
        .unwrap();
    assert_eq!(Response::status(&response), 503);
    let policy = steadfast::Policy::seed_guide();
    let clock = steadfast::Clock::new(std::time::Duration::ZERO, std::time::Duration::ZERO);
    let request = steadfast::Request::new(steadfast::Method::Get);
    let mut call = steadfast::Call::new(&policy, request, clock, 0);
    call.poll(clock, None);
    let outcome = steadfast::Outcome::response(503, Response::headers(&response));
    let event = call.observe(outcome, clock, None).unwrap();
    assert_eq!(event.basis, steadfast::Basis::RetryAfter);
    assert_eq!(event.rate_limit.and_then(|r| r.remaining), Some(3));
    assert_eq!(
        event.action,
        steadfast::Action::Sleep(std::time::Duration::from_secs(7))
    );
}

mod panicking_hooks_through_shared_limits {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use steadfast::driver::blocking::{run, Hooks};
    use steadfast::driver::Reply;
    use steadfast::{Limits, Method, NetworkError, Request};

    use super::support::fake_api::FakeApi;
    use super::support::{assert_nothing_held, flaky_api, guarded_policy, ms};

    /// Creates one contact; panics in attempt `panic_at`, before or after
    /// the request went out.
    struct Flaky {
        agent: ureq::Agent,
        url: String,
        body: String,
        panic_at: Option<(u32, bool)>,
    }

    impl Hooks for Flaky {
        type Response = Reply;
        type Id = ();
        fn send(&mut self, attempt: u32, timeout: Option<Duration>) -> Result<Reply, NetworkError> {
            if self.panic_at == Some((attempt, false)) {
                panic!("hook panicked before sending attempt {attempt}");
            }
            let result = self
                .agent
                .post(&self.url)
                .config()
                .timeout_global(timeout)
                .build()
                .header("Authorization", "Bearer tok-0")
                .header("Content-Type", "application/json")
                .send(&self.body);
            let sent = Reply::from_ureq(result);
            if self.panic_at == Some((attempt, true)) {
                panic!("hook panicked after sending attempt {attempt}");
            }
            sent
        }
    }

    fn flaky(api: &FakeApi, ext: &str, panic_at: Option<(u32, bool)>) -> Flaky {
        Flaky {
            agent: ureq::Agent::new_with_config(
                ureq::config::Config::builder()
                    .http_status_as_error(false)
                    .build(),
            ),
            url: api.url("/contacts"),
            body: super::support::contact_json(ext),
            panic_at,
        }
    }

    #[test]
    fn hooks_that_panic_leave_the_limits_clean() {
        let api = flaky_api(11, &[]);
        let policy = Arc::new(guarded_policy());
        let limits = Arc::new(Mutex::new(Limits::new(&policy)));
        let request = Request::new(Method::Post).with_external_id();
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (api, policy, limits) =
                    (Arc::clone(&api), Arc::clone(&policy), Arc::clone(&limits));
                std::thread::spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(t);
                    let mut panics = 0;
                    for i in 0..10 {
                        let panic_at = rng.bool().then(|| (rng.u32(1..=3), rng.bool()));
                        let mut hooks = flaky(&api, &format!("p-{t}-{i}"), panic_at);
                        let run = catch_unwind(AssertUnwindSafe(|| {
                            run(&*policy, request, &*limits, &mut hooks)
                        }));
                        panics += u32::from(run.is_err());
                    }
                    panics
                })
            })
            .collect();
        let panics: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(panics > 2, "only {panics} of 40 calls panicked");
        assert_nothing_held(&limits);

        api.random_faults(0, 0.0, Vec::new());
        std::thread::sleep(ms(300));
        let run = run(
            &*policy,
            request,
            &*limits,
            &mut flaky(&api, "healed", None),
        );
        assert!(
            run.result.is_ok(),
            "{:?}",
            run.result.err().map(|f| f.reason)
        );
        assert_nothing_held(&limits);
    }
}
