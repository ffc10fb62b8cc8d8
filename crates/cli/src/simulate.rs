//! A fleet of clients against a modeled overloaded server, in simulated
//! time: a discrete-event loop over a timer heap, deterministic for a seed.

use core::fmt::Write as _;
use core::time::Duration;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use steadfast::{Action, Call, Clock, Jitter, Limits, Method, Outcome, Policy, Request};

/// How the server turns away a request over its capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// 429 with `Retry-After` (whole seconds until the window ends).
    RetryAfter,
    /// 429 with only rate-limit headers (`X-Rate-Limit-*`, the guide's),
    /// which the server also sends on every accepted response.
    Headers,
    /// 503 without headers.
    Unavailable,
}

/// The modeled world.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// Clients, all starting at time zero.
    pub clients: u32,
    /// Requests each client must complete, one after another.
    pub requests: u32,
    /// Requests the server accepts per one-second window.
    pub capacity: u32,
    /// From each of these times on (in order), the server accepts this
    /// many per window instead.
    pub capacity_from: Vec<(Duration, u32)>,
    /// How it rejects the rest.
    pub reject: Reject,
    /// Windows of time in which every request gets a 503.
    pub outages: Vec<(Duration, Duration)>,
    /// Response time of every request.
    pub latency: Duration,
    /// Seeds the clients' jitter.
    pub seed: u64,
    /// Processes the clients are spread over (client `i` runs in process
    /// `i % processes`); limits shared "per process" are one set each.
    pub processes: u32,
}

/// One policy under test.
pub struct Contender {
    /// Its name in the table.
    pub name: &'static str,
    /// The policy.
    pub policy: Policy,
    /// Whether its calls share `Limits` (pacing, budget, breaker).
    pub shared_limits: bool,
    /// Whether the limits are shared by the whole fleet (one set, as Redis
    /// leases approximate it) rather than per process.
    pub fleet: bool,
}

/// The policies the command compares. With more than one process, the
/// recommended policy also runs with its limits shared by the whole fleet
/// (its own row is then limits per process).
pub fn contenders(processes: u32) -> Vec<Contender> {
    let guide = Policy::seed_guide();
    let recommended = Policy::recommended();
    let c = |name, policy, shared_limits| Contender {
        name,
        policy,
        shared_limits,
        fleet: false,
    };
    let fleet = |name, policy| Contender {
        name,
        policy,
        shared_limits: true,
        fleet: true,
    };
    let mut all = vec![
        c("seed guide, no jitter", guide.clone(), false),
        c(
            "seed guide + full jitter",
            guide.clone().with_jitter(Jitter::Full),
            false,
        ),
        c(
            "seed guide + decorrelated",
            guide.with_jitter(Jitter::Decorrelated),
            false,
        ),
        c(
            "recommended: jitter+pacing+adaptive+budget",
            recommended,
            true,
        ),
        c("genesys-sdk", Policy::genesys_sdk(), false),
        c("aws-standard (shared quota)", Policy::aws_standard(), true),
        c(
            "aws-adaptive (quota + adaptive rate)",
            Policy::aws_adaptive(),
            true,
        ),
    ];
    if processes > 1 {
        all.insert(
            4,
            fleet("recommended, shared by the fleet", all[3].policy.clone()),
        );
    }
    all
}

/// What one policy did in the world.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// The policy's name.
    pub name: &'static str,
    /// Requests the server received.
    pub sent: u64,
    /// Requests it turned away (over capacity or in an outage).
    pub rejected: u64,
    /// Requests completed.
    pub done: u64,
    /// Requests given up on.
    pub gave_up: u64,
    /// How long completed requests took, from their first send to done:
    /// p50, p99, max (given-up requests are not in it).
    pub latency: [Duration; 3],
    /// When the last client finished its last request.
    pub all_done: Duration,
    /// Requests the server received in each second.
    pub load: Vec<u32>,
    /// For each of the world's capacity changes, how long after it the
    /// load had settled on the new capacity: the start of the first whole
    /// second that had at least 80 % of it accepted and at most 20 % of it
    /// turned away. `None`: never, before the work ran out.
    pub settled: Vec<Option<Duration>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// The client polls its call.
    Poll,
    /// The response to its send arrives: its status, the window's limit,
    /// the requests left in it, and the second (since the start) it ends
    /// at.
    Arrive {
        status: u16,
        limit: u32,
        left: u32,
        ends: u64,
    },
}

struct Server<'w> {
    world: &'w World,
    window: u64,
    used: u32,
    /// Received and turned away, per second.
    load: Vec<u32>,
    turned_away: Vec<u32>,
    rejected: u64,
}

impl Server<'_> {
    fn capacity(&self, now: Duration) -> u32 {
        let later = self
            .world
            .capacity_from
            .iter()
            .take_while(|&&(at, _)| at <= now);
        later.last().map_or(self.world.capacity, |&(_, c)| c)
    }

    fn handle(&mut self, now: Duration) -> Wake {
        let second = now.as_secs();
        let slot = usize::try_from(second).unwrap_or(usize::MAX);
        if self.load.len() <= slot && slot < 1 << 20 {
            self.load.resize(slot + 1, 0);
            self.turned_away.resize(slot + 1, 0);
        }
        if let Some(n) = self.load.get_mut(slot) {
            *n += 1;
        }
        let wake = self.answer(now, second);
        if let (
            Wake::Arrive {
                status: 429 | 503, ..
            },
            Some(n),
        ) = (wake, self.turned_away.get_mut(slot))
        {
            *n += 1;
        }
        wake
    }

    /// How long after each capacity change the load settled on it.
    fn settled(&self) -> Vec<Option<Duration>> {
        let world = self.world;
        world
            .capacity_from
            .iter()
            .map(|&(at, capacity)| {
                let first = at.as_secs() + u64::from(at.subsec_nanos() > 0);
                let start = usize::try_from(first).unwrap_or(usize::MAX);
                let seconds = self.load.iter().zip(&self.turned_away).enumerate();
                seconds.skip(start).find_map(|(s, (&load, &away))| {
                    let accepted = u64::from(load - away) * 10;
                    let fits = accepted >= u64::from(capacity) * 8
                        && u64::from(away) * 10 <= u64::from(capacity) * 2;
                    let when = Duration::from_secs(s as u64);
                    fits.then(|| when.saturating_sub(at))
                })
            })
            .collect()
    }

    fn answer(&mut self, now: Duration, second: u64) -> Wake {
        if second != self.window {
            (self.window, self.used) = (second, 0);
        }
        let ends = second + 1;
        let limit = self.capacity(now);
        if self.world.outages.iter().any(|&(a, b)| now >= a && now < b) {
            self.rejected += 1;
            return Wake::Arrive {
                status: 503,
                limit,
                left: 0,
                ends,
            };
        }
        self.used += 1;
        if self.used <= limit {
            return Wake::Arrive {
                status: 200,
                limit,
                left: limit - self.used,
                ends,
            };
        }
        self.rejected += 1;
        let status = match self.world.reject {
            Reject::Unavailable => 503,
            Reject::RetryAfter | Reject::Headers => 429,
        };
        Wake::Arrive {
            status,
            limit,
            left: 0,
            ends,
        }
    }
}

const START_UNIX: u64 = 1_800_000_000;

/// One simulated client: its current call, what it waits for, when its
/// current request started and how many it has left (together: one place
/// in memory per client touched at each step).
struct Client<'p> {
    call: Call<&'p Policy>,
    wake: Wake,
    started: Duration,
    left: u32,
}

/// What every client waits for next, earliest first (ties: the lower
/// client index). Each client waits for one thing at a time, so the queue
/// holds only when and who, packed into one integer that is cheap to
/// order; the client holds what. Entries pushed in order (responses,
/// which all take the same latency) go to a first-in-first-out line
/// instead of the heap: most of the traffic, at a fraction of the cost.
struct Queue {
    heap: BinaryHeap<Reverse<u128>>,
    line: std::collections::VecDeque<u128>,
}

impl Queue {
    /// Every client polls at the start.
    fn new(clients: usize) -> Self {
        Self {
            heap: (0..clients)
                .map(|i| Reverse(Self::key(Duration::ZERO, i)))
                .collect(),
            line: std::collections::VecDeque::new(),
        }
    }

    /// Nanoseconds since the start above the client's index.
    fn key(when: Duration, client: usize) -> u128 {
        (when.as_nanos() << 32) | client as u128
    }

    fn push(&mut self, when: Duration, client: usize) {
        let key = Self::key(when, client);
        if self.line.back().is_none_or(|&last| last <= key) {
            self.line.push_back(key);
        } else {
            self.heap.push(Reverse(key));
        }
    }

    fn pop(&mut self) -> Option<(Duration, usize)> {
        let from_line = match (self.line.front(), self.heap.peek()) {
            (Some(&a), Some(&Reverse(b))) => a < b,
            (line, _) => line.is_some(),
        };
        let key = if from_line {
            self.line.pop_front()?
        } else {
            self.heap.pop()?.0
        };
        let nanos = u64::try_from(key >> 32).unwrap_or(u64::MAX);
        let client = (key & 0xffff_ffff) as usize;
        Some((Duration::from_nanos(nanos), client))
    }
}

/// The memory one policy's run needs, about: a call and its bookkeeping
/// per client, a latency per request.
pub fn estimated_bytes(world: &World) -> u64 {
    let per_client = core::mem::size_of::<Call<&Policy>>() as u64 + 64;
    let clients = u64::from(world.clients);
    clients.saturating_mul(per_client).saturating_add(
        clients
            .saturating_mul(u64::from(world.requests))
            .saturating_mul(4),
    )
}

/// The most [`estimated_bytes`] the command accepts: 8 GiB.
pub const MAX_BYTES: u64 = 8 << 30;

/// Runs one policy through the world.
pub fn run(world: &World, contender: &Contender) -> Score {
    run_with_progress(world, contender, &mut |_| {})
}

/// The order in which to run `contenders` side by side so that the
/// longest starts first: by the requests each sends in a pilot run with a
/// thousandth of the clients (at least 100) at the same capacity per
/// client, about a percent of the whole at most. Worlds under 10,000
/// clients keep their order.
pub fn longest_first(world: &World, contenders: &[Contender]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..contenders.len()).collect();
    if world.clients < 10_000 {
        return order;
    }
    let scale = (world.clients / 100).min(1000);
    let pilot = World {
        clients: world.clients / scale,
        capacity: (world.capacity / scale).max(1),
        capacity_from: (world.capacity_from.iter())
            .map(|&(at, c)| (at, (c / scale).max(1)))
            .collect(),
        processes: world.processes.min(world.clients / scale).max(1),
        ..world.clone()
    };
    let sent: Vec<u64> = contenders.iter().map(|c| run(&pilot, c).sent).collect();
    order.sort_by_key(|&k| core::cmp::Reverse(sent[k]));
    order
}

/// Requests finished between two calls of a progress callback.
const PROGRESS_EVERY: u64 = 4096;

/// [`run`], calling `progress` with the requests finished (done or given
/// up) so far every few thousand requests, and once at the end.
pub fn run_with_progress(
    world: &World,
    contender: &Contender,
    progress: &mut dyn FnMut(u64),
) -> Score {
    let policy = &contender.policy;
    let sets = if contender.fleet {
        1
    } else {
        world.processes.max(1)
    };
    let mut limits: Vec<Limits> = (0..sets).map(|_| Limits::new(policy)).collect();
    let n = world.clients as usize;
    let request = Request::new(Method::Post).with_external_id();
    let clock_at = |t: Duration| Clock::new(t, Duration::from_secs(START_UNIX).saturating_add(t));
    let mut clients: Vec<Client<'_>> = (0..n)
        .map(|i| Client {
            call: Call::new(
                policy,
                request,
                clock_at(Duration::ZERO),
                world.seed ^ (i as u64) << 20,
            ),
            wake: Wake::Poll,
            started: Duration::ZERO,
            left: world.requests,
        })
        .collect();
    // Milliseconds: a million requests take 4 MB.
    let mut latencies: Vec<u32> = Vec::new();
    let mut all_done = Duration::ZERO;
    let mut queue = Queue::new(n);
    let mut server = Server {
        world,
        window: 0,
        used: 0,
        load: Vec::new(),
        turned_away: Vec::new(),
        rejected: 0,
    };
    let (mut sent, mut gave_up) = (0u64, 0u64);
    let mut numbers = [
        itoa::Buffer::new(),
        itoa::Buffer::new(),
        itoa::Buffer::new(),
    ];
    // What a client does at the instant it is woken, it does at once: the
    // queue would hand its next step at the same instant straight back
    // (nothing earlier is left, and at this instant it orders by client).
    while let Some((now, i)) = queue.pop() {
        let clock = clock_at(now);
        let client = &mut clients[i];
        let call = &mut client.call;
        let mut next = Some(client.wake);
        while let Some(wake) = next.take() {
            match wake {
                Wake::Poll => {
                    let shared = contender
                        .shared_limits
                        .then(|| &mut limits[i % sets as usize]);
                    let action = call.poll(clock, shared);
                    match action {
                        Action::Send { .. } => {
                            sent += 1;
                            let arrive = server.handle(now);
                            client.wake = arrive;
                            queue.push(now + world.latency, i);
                        }
                        Action::Sleep(d) => {
                            client.wake = Wake::Poll;
                            queue.push(now + d, i);
                        }
                        // The simulated API never asks for a token or a search.
                        Action::RefreshToken | Action::SearchExisting => {}
                        Action::Done(_) | Action::GiveUp(_) => {
                            let finished = gave_up + latencies.len() as u64 + 1;
                            if finished % PROGRESS_EVERY == 0 {
                                progress(finished);
                            }
                            if matches!(action, Action::GiveUp(_)) {
                                gave_up += 1;
                            } else {
                                let took = now.saturating_sub(client.started).as_millis();
                                latencies.push(u32::try_from(took).unwrap_or(u32::MAX));
                            }
                            client.left -= 1;
                            client.started = now;
                            if client.left == 0 {
                                all_done = all_done.max(now);
                            } else {
                                *call = Call::new(
                                    policy,
                                    request,
                                    clock,
                                    world.seed ^ ((i as u64) << 20) ^ u64::from(client.left),
                                );
                                next = Some(Wake::Poll);
                            }
                        }
                    }
                }
                Wake::Arrive {
                    status,
                    limit,
                    left,
                    ends,
                } => {
                    let [capacity, remaining, reset] = &mut numbers;
                    let rate_limit;
                    let headers: &[(&str, &str)] = match (world.reject, status) {
                        (Reject::RetryAfter, 429) => &[("Retry-After", "1")],
                        (Reject::Headers, 429 | 200) => {
                            rate_limit = [
                                ("X-Rate-Limit-Limit", capacity.format(limit)),
                                ("X-Rate-Limit-Remaining", remaining.format(left)),
                                ("X-Rate-Limit-Reset", reset.format(START_UNIX + ends)),
                            ];
                            &rate_limit
                        }
                        _ => &[],
                    };
                    let outcome = Outcome::response(status, &headers);
                    let shared = contender
                        .shared_limits
                        .then(|| &mut limits[i % sets as usize]);
                    let observed = call.observe(outcome, clock, shared).is_ok();
                    if observed {
                        next = Some(Wake::Poll);
                    }
                }
            }
        }
    }
    progress(gave_up + latencies.len() as u64);
    latencies.sort_unstable();
    let pick = |q: usize| {
        let at = latencies.len().saturating_sub(1) * q / 100;
        Duration::from_millis(latencies.get(at).copied().map_or(0, u64::from))
    };
    Score {
        name: contender.name,
        sent,
        rejected: server.rejected,
        done: latencies.len() as u64,
        gave_up,
        latency: [pick(50), pick(99), pick(100)],
        all_done,
        settled: server.settled(),
        load: server.load,
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The comparison as an aligned table.
pub fn table(world: &World, results: &[Score]) -> String {
    let mut out = String::new();
    let changes: String = (world.capacity_from.iter())
        .map(|&(at, c)| format!(", {c}/s from {}", secs(at)))
        .collect();
    let _ = writeln!(
        out,
        "{} clients x {} requests, capacity {}/s{changes}, rejections: {:?}, seed {}{}",
        world.clients,
        world.requests,
        world.capacity,
        world.reject,
        world.seed,
        if world.processes > 1 {
            format!(", {} processes", world.processes)
        } else {
            String::new()
        }
    );
    let follows = !world.capacity_from.is_empty();
    let _ = write!(
        out,
        "{:<40} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "policy", "sent", "rejected", "done", "gave up", "p50", "p99", "max", "all done"
    );
    let _ = writeln!(out, "{}", if follows { "  settled" } else { "" });
    for r in results {
        let _ = write!(
            out,
            "{:<40} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
            r.name,
            r.sent,
            r.rejected,
            r.done,
            r.gave_up,
            secs(r.latency[0]),
            secs(r.latency[1]),
            secs(r.latency[2]),
            secs(r.all_done)
        );
        let settled: Vec<String> = (r.settled.iter())
            .map(|d| d.map_or_else(|| "never".to_owned(), |d| format!("{}s", d.as_secs())))
            .collect();
        let _ = writeln!(
            out,
            "{}",
            if follows {
                format!("  {}", settled.join(" / "))
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        out,
        "p50/p99/max: how long completed requests took (given-up ones not counted); all done: when the last client finished"
    );
    if follows {
        let _ = writeln!(
            out,
            "settled: seconds from each capacity change to the first whole second with at least 80 % of the new capacity accepted and at most 20 % of it turned away"
        );
    }
    out
}

/// Server load per second as an SVG picture: one strip of bars per policy,
/// all on one scale from zero to three times the capacity (a taller second
/// is drawn to the top, capped in black, the strip's peak written beside
/// it), the
/// capacity dashed and labelled, the scale's ends at the left of every
/// strip and the time along the bottom.
pub fn svg(world: &World, results: &[Score]) -> String {
    const COLORS: [&str; 7] = [
        "#d62728", "#ff7f0e", "#9467bd", "#2ca02c", "#17becf", "#1f77b4", "#8c564b",
    ];
    const W: f64 = 980.0;
    const LEFT: f64 = 380.0;
    const RIGHT: f64 = 20.0;
    const STRIP: f64 = 80.0;
    const TOP: f64 = 40.0;
    let seconds = results
        .iter()
        .map(|r| r.load.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let top = f64::from(world.capacity.saturating_mul(3).max(1));
    let bar = (W - LEFT - RIGHT) / seconds as f64;
    let h = TOP + STRIP * results.len() as f64 + 36.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="22" font-size="15">Requests reaching the server each second — {} clients x {} requests, capacity {}/s (dashed)</text>"#,
        world.clients, world.requests, world.capacity
    );
    let scale = (STRIP - 22.0) / top;
    for (k, r) in results.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let base = TOP + STRIP * (k as f64 + 1.0) - 12.0;
        let _ = writeln!(
            out,
            r#"<text x="10" y="{:.1}">{}</text><text x="10" y="{:.1}" fill="dimgray" font-size="11">{} sent, {} rejected, {} gave up</text><text x="10" y="{:.1}" fill="dimgray" font-size="11">peak {}/s</text>"#,
            base - 40.0,
            r.name,
            base - 24.0,
            r.sent,
            r.rejected,
            r.gave_up,
            base - 8.0,
            r.load.iter().max().copied().unwrap_or(0)
        );
        let width = (bar - 1.0).max(0.5);
        let peak = r.load.iter().copied().max().unwrap_or(0);
        let mut labelled = false;
        for (s, &v) in r.load.iter().enumerate() {
            let over = f64::from(v) > top;
            let height = f64::from(v).min(top) * scale;
            let x = LEFT + s as f64 * bar;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="{width:.1}" height="{height:.1}" fill="{color}"/>"#,
                base - height,
            );
            if over {
                let y = base - height;
                let _ = write!(
                    out,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="2" fill="black"/>"#
                );
                // One label per strip, on its highest second.
                if v == peak && !labelled {
                    labelled = true;
                    let _ = write!(
                        out,
                        r#"<text x="{:.1}" y="{:.1}" font-size="10">{v}/s</text>"#,
                        x + width + 3.0,
                        y + 9.0
                    );
                }
            }
        }
        let cap = base - f64::from(world.capacity) * scale;
        let high = base - top * scale;
        let _ = writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{cap:.1}" x2="{:.1}" y2="{cap:.1}" stroke="black" stroke-dasharray="3 3"/><line x1="{LEFT}" y1="{base:.1}" x2="{:.1}" y2="{base:.1}" stroke="darkgray"/><line x1="{LEFT}" y1="{high:.1}" x2="{LEFT}" y2="{base:.1}" stroke="darkgray"/>"#,
            W - RIGHT,
            W - RIGHT
        );
        // The scale's ends at the left, the capacity at the right.
        for (v, y) in [(0.0, base), (top, high)] {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10" fill="dimgray">{v}/s</text>"#,
                LEFT - 4.0,
                y + 3.5
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{}/s</text>"#,
            W - RIGHT,
            cap - 3.0,
            world.capacity
        );
        out.push('\n');
    }
    // Time ticks: at most about ten, on round numbers of seconds.
    let step = [1usize, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000]
        .into_iter()
        .find(|&s| seconds / s <= 10)
        .unwrap_or(10_000);
    let axis = h - 22.0;
    for t in (0..=seconds).step_by(step) {
        let x = LEFT + t as f64 * bar;
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" y1="{axis:.1}" x2="{x:.1}" y2="{:.1}" stroke="darkgray"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="10">{t} s</text>"#,
            axis + 4.0,
            axis + 15.0
        );
    }
    out.push_str("\n</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(clients: u32) -> World {
        World {
            clients,
            requests: 10,
            capacity: clients / 20,
            reject: Reject::Headers,
            outages: Vec::new(),
            capacity_from: Vec::new(),
            latency: Duration::from_millis(100),
            seed: 1,
            processes: 1,
        }
    }

    #[test]
    fn the_heaviest_policy_runs_first() {
        let contenders = contenders(1);
        let order = longest_first(&world(200_000), &contenders);
        assert_eq!(
            contenders[order[0]].name, "genesys-sdk",
            "it sends the most"
        );
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..contenders.len()).collect::<Vec<_>>(),
            "each once"
        );
        assert_eq!(
            longest_first(&world(1_000), &contenders),
            (0..contenders.len()).collect::<Vec<_>>(),
            "small worlds keep their order"
        );
    }
}
