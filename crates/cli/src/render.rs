//! A trace as an aligned table, or as JSON lines.

use core::fmt::Write as _;
use core::time::Duration;

use serde::Serialize;

use steadfast::Action;
use steadfast::Event;
use steadfast::Trace;

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn columns(e: &Event) -> [String; 6] {
    let (action, wait, reason) = match e.action {
        Action::Send { attempt } => (format!("send #{attempt}"), "-".into(), e.basis.to_string()),
        Action::Sleep(d) => ("sleep".into(), human(d), e.basis.to_string()),
        Action::RefreshToken => ("refresh token".into(), "-".into(), e.basis.to_string()),
        Action::SearchExisting => ("search existing".into(), "-".into(), e.basis.to_string()),
        Action::Done(c) => ("done".into(), "-".into(), c.to_string()),
        Action::GiveUp(r) => ("give up".into(), "-".into(), r.to_string()),
    };
    [
        e.attempt.to_string(),
        human(e.elapsed),
        e.observed.to_string(),
        action,
        wait,
        reason,
    ]
}

/// An aligned table: attempt, time, observed, action, wait, reason; then
/// how the call ended.
pub fn table(trace: &Trace) -> String {
    let header = ["attempt", "time", "observed", "action", "wait", "reason"].map(String::from);
    let rows: Vec<[String; 6]> = core::iter::once(header)
        .chain(trace.events.iter().map(columns))
        .collect();
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(out, "end: {}", trace.summary());
    out
}

#[derive(Serialize)]
struct EndRecord<'a> {
    end: &'a str,
    sends: u32,
    #[serde(with = "humantime_serde")]
    slept: Duration,
    #[serde(with = "humantime_serde")]
    elapsed: Duration,
    finished: bool,
}

/// One JSON object per event, then one for the end.
pub fn json_lines(trace: &Trace) -> String {
    let mut out = String::new();
    for e in &trace.events {
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    let how = trace.ending().to_string();
    let end = EndRecord {
        end: &how,
        sends: trace.sends,
        slept: trace.slept(),
        elapsed: trace.elapsed,
        finished: trace.end.is_some(),
    };
    if let Ok(line) = serde_json::to_string(&end) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
