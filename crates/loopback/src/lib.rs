//! A fault-injecting contact API on 127.0.0.1 for steadfast's demo,
//! end-to-end tests and benches (not published). It speaks just enough
//! HTTP/1.1 — keep-alive, Content-Length bodies — to play scripted faults that
//! a framework would smooth over: a connection closed mid-response, a record
//! stored and then a stall past the client's timeout.
//!
//! Routes: `POST /oauth/token`, `POST /contacts`, `GET /contacts?externalId=`,
//! `PUT /contacts/{id}`. `/contacts` needs `Authorization: Bearer <token>`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod scenarios;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// What the server does to one `POST`/`PUT /contacts` request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// No fault: handle the request normally (spaces out a script).
    Pass,
    /// Answer this status with these headers; nothing is stored.
    Status(u16, Vec<(String, String)>),
    /// Rotate the token (the client's becomes stale) and answer 401.
    ExpireToken,
    /// Wait this long, then close the connection; nothing is stored.
    SlowThenClose(Duration),
    /// Store the record, then stall this long before answering (the client
    /// times out although the create happened).
    StoreThenStall(Duration),
    /// Store the record, then close in the middle of the response.
    StoreThenCloseMidResponse,
}

impl Fault {
    /// Answer `status` with no headers.
    pub fn status(status: u16) -> Self {
        Fault::Status(status, Vec::new())
    }

    /// Answer `status` with `headers`.
    pub fn with(status: u16, headers: &[(&str, &str)]) -> Self {
        Fault::Status(
            status,
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When it arrived, since the server started.
    pub at: Duration,
    /// Its method.
    pub method: String,
    /// Its path, query included.
    pub path: String,
    /// The status answered, if one was.
    pub status: Option<u16>,
    /// The fault played on it, if any.
    pub fault: Option<String>,
}

#[derive(Default)]
struct State {
    started: Option<Instant>,
    token: String,
    refreshes: u32,
    /// external id -> (record id, body)
    contacts: HashMap<String, (String, String)>,
    next_id: u64,
    script: VecDeque<Fault>,
    random: Option<(fastrand::Rng, f64, Vec<Fault>)>,
    log: Vec<Seen>,
    /// (limit per window, window, window index, requests in it)
    rate_limit: Option<(u32, Duration, u128, u32)>,
}

/// The running server. Dropping it stops accepting connections.
pub struct FakeApi {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeApi {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            started: Some(Instant::now()),
            token: "tok-0".into(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                thread::spawn(move || serve(conn, &s));
            }
        });
        Self { addr, state, stop }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Faults for the next faultable requests, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).script.extend(faults);
    }

    /// After the script: each faultable request draws one of `faults` with
    /// probability `p`, from an RNG seeded with `seed`.
    pub fn random_faults(&self, seed: u64, p: f64, faults: Vec<Fault>) {
        lock(&self.state).random = Some((fastrand::Rng::with_seed(seed), p, faults));
    }

    /// Enforces `limit` requests to `/contacts` per fixed `window`: over it,
    /// 429. Every `/contacts` answer carries `RateLimit-Limit`,
    /// `-Remaining` and `-Reset` (fractional seconds until the window ends).
    pub fn rate_limit(&self, limit: u32, window: Duration) {
        lock(&self.state).rate_limit = Some((limit, window, 0, 0));
    }

    /// Pre-existing records (as if created by an earlier run).
    pub fn preload(&self, external_ids: &[&str]) {
        let mut st = lock(&self.state);
        for ext in external_ids {
            st.next_id += 1;
            let id = format!("c-{}", st.next_id);
            st.contacts.insert(ext.to_string(), (id, String::new()));
        }
    }

    /// The records, keyed by external id.
    pub fn store(&self) -> HashMap<String, String> {
        lock(&self.state)
            .contacts
            .iter()
            .map(|(k, (id, _))| (k.clone(), id.clone()))
            .collect()
    }

    /// Every request seen so far.
    pub fn log(&self) -> Vec<Seen> {
        lock(&self.state).log.clone()
    }

    /// Tokens issued by `POST /oauth/token` so far.
    pub fn refreshes(&self) -> u32 {
        lock(&self.state).refreshes
    }

    /// The token a client obtains from `POST /oauth/token` right now.
    pub fn token(&self) -> String {
        lock(&self.state).token.clone()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

struct Req {
    method: String,
    path: String,
    auth: Option<String>,
    body: String,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut len, mut auth) = (0usize, None);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => len = value.trim().parse().ok()?,
            "authorization" => auth = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; len.min(1 << 20)];
    r.read_exact(&mut body).ok()?;
    Some(Req {
        method,
        path,
        auth,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn respond(w: &mut TcpStream, status: u16, headers: &[(String, String)], body: &str) -> bool {
    let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    w.write_all(out.as_bytes()).is_ok()
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let Ok(mut w) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    while let Some(req) = read_request(&mut r) {
        if !handle(&req, &mut w, state) {
            return;
        }
    }
}

/// Answers one request; false when the connection must close.
fn handle(req: &Req, w: &mut TcpStream, state: &Mutex<State>) -> bool {
    let mut st = lock(state);
    let at = st.started.map(|s| s.elapsed()).unwrap_or_default();
    let mut seen = Seen {
        at,
        method: req.method.clone(),
        path: req.path.clone(),
        status: None,
        fault: None,
    };
    let limited = req.path.starts_with("/contacts");
    let rate_headers = if limited {
        count_against_limit(&mut st, at)
    } else {
        None
    };
    if let Some((false, headers)) = &rate_headers {
        seen.status = Some(429);
        st.log.push(seen);
        drop(st);
        return respond(w, 429, headers, "");
    }
    let extra = rate_headers.map(|(_, h)| h).unwrap_or_default();
    let faultable = req.path.starts_with("/contacts") && req.method != "GET";
    let fault = if faultable { next_fault(&mut st) } else { None };
    let fault = fault.filter(|f| !matches!(f, Fault::Pass));
    seen.fault = fault.as_ref().map(|f| format!("{f:?}"));
    let authorized = req.auth.as_deref() == Some(&format!("Bearer {}", st.token));
    let (status, headers, body, after): (u16, Vec<(String, String)>, String, Option<Fault>) =
        match (fault, req.path.as_str()) {
            (_, "/oauth/token") => {
                st.refreshes += 1;
                let n = st.refreshes;
                st.token = format!("tok-{n}");
                (
                    200,
                    vec![],
                    format!("{{\"access_token\":\"tok-{n}\"}}"),
                    None,
                )
            }
            _ if !authorized && req.path.starts_with("/contacts") => {
                (401, vec![], String::new(), None)
            }
            (Some(Fault::Status(s, h)), _) => (s, h, String::new(), None),
            (Some(Fault::ExpireToken), _) => {
                st.token = format!("{}-expired", st.token);
                (401, vec![], String::new(), None)
            }
            (Some(f @ Fault::SlowThenClose(_)), _) => (0, vec![], String::new(), Some(f)),
            (f, _) => {
                let (status, body) = route(&mut st, req);
                (status, extra, body, f)
            }
        };
    seen.status = (status != 0).then_some(status);
    st.log.push(seen);
    drop(st);
    match after {
        Some(Fault::SlowThenClose(d)) => {
            thread::sleep(d);
            false
        }
        Some(Fault::StoreThenStall(d)) => {
            thread::sleep(d);
            respond(w, status, &headers, &body)
        }
        Some(Fault::StoreThenCloseMidResponse) => {
            let head = format!("HTTP/1.1 {status} X\r\nContent-Length: 100\r\n\r\n{{\"id\":");
            let _ = w.write_all(head.as_bytes());
            false
        }
        _ => respond(w, status, &headers, &body),
    }
}

/// Counts a request against the rate limit: (allowed, headers to send).
fn count_against_limit(st: &mut State, at: Duration) -> Option<(bool, Vec<(String, String)>)> {
    let (limit, window, index, count) = st.rate_limit.as_mut()?;
    let now = at.as_nanos() / window.as_nanos().max(1);
    if now != *index {
        (*index, *count) = (now, 0);
    }
    *count += 1;
    let allowed = *count <= *limit;
    let ends = Duration::from_nanos(((now + 1) * window.as_nanos()) as u64);
    let headers = vec![
        ("RateLimit-Limit".to_owned(), limit.to_string()),
        (
            "RateLimit-Remaining".to_owned(),
            limit.saturating_sub(*count).to_string(),
        ),
        (
            "RateLimit-Reset".to_owned(),
            format!("{:.3}", (ends - at).as_secs_f64() + 0.0005),
        ),
    ];
    Some((allowed, headers))
}

fn next_fault(st: &mut State) -> Option<Fault> {
    if let Some(f) = st.script.pop_front() {
        return Some(f);
    }
    let (rng, p, faults) = st.random.as_mut()?;
    if faults.is_empty() || rng.f64() >= *p {
        return None;
    }
    Some(faults[rng.usize(..faults.len())].clone())
}

fn external_id(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(v.get("externalId")?.as_str()?.to_owned())
}

fn route(st: &mut State, req: &Req) -> (u16, String) {
    let path = req.path.as_str();
    match (req.method.as_str(), path) {
        ("POST", "/contacts") => {
            let Some(ext) = external_id(&req.body) else {
                return (400, "{\"error\":\"externalId required\"}".into());
            };
            if st.contacts.contains_key(&ext) {
                return (409, "{\"error\":\"duplicate externalId\"}".into());
            }
            st.next_id += 1;
            let id = format!("c-{}", st.next_id);
            st.contacts.insert(ext, (id.clone(), req.body.clone()));
            (201, format!("{{\"id\":\"{id}\"}}"))
        }
        ("GET", _) if path.starts_with("/contacts?externalId=") => {
            let ext = &path["/contacts?externalId=".len()..];
            match st.contacts.get(ext) {
                Some((id, _)) => (200, format!("{{\"id\":\"{id}\"}}")),
                None => (404, String::new()),
            }
        }
        ("PUT", _) if path.starts_with("/contacts/") => {
            let id = &path["/contacts/".len()..];
            let found = st.contacts.values_mut().find(|(i, _)| i == id);
            match found {
                Some((_, body)) => {
                    *body = req.body.clone();
                    (200, format!("{{\"id\":\"{id}\"}}"))
                }
                None => (404, String::new()),
            }
        }
        _ => (404, String::new()),
    }
}
