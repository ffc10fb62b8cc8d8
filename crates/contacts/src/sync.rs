//! The source guide's contact sync, on the engine and the blocking driver:
//! validate, create keyed by external id, resolve a conflict by searching,
//! and say for every contact exactly one of Created / Exists / Updated /
//! Skipped / Failed — with nothing sent twice that could be duplicated.

use core::fmt;
use core::time::Duration;

use serde::Serialize;

use steadfast::driver::blocking::{self, Hooks};
use steadfast::driver::Sharing;
use steadfast::driver::{Failure, Response, Run};
use steadfast::Completion;
use steadfast::{Method, NetworkError, Policy, Reason, Refresh, Request, Search};

use crate::contact::{Contact, Problem};

/// The contact API, as the sync needs it. Each method sends one request.
pub trait ContactApi {
    /// A response of the API's client.
    type Response: Response;

    /// `POST /contacts`, bounded by `timeout`.
    fn create(
        &mut self,
        contact: &Contact,
        timeout: Option<Duration>,
    ) -> Result<Self::Response, NetworkError>;

    /// The new record's id, read from a successful create's response.
    fn created_id(&self, response: &Self::Response) -> String;

    /// Finds the record with this external id.
    fn find(&mut self, external_id: &str) -> Search<String>;

    /// `PUT /contacts/{id}`, bounded by `timeout`.
    fn update(
        &mut self,
        id: &str,
        contact: &Contact,
        timeout: Option<Duration>,
    ) -> Result<Self::Response, NetworkError>;

    /// Refreshes the access token.
    fn refresh_token(&mut self) -> Refresh;
}

/// What happened to one contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "UPPERCASE")]
pub enum SyncOutcome {
    /// Created, with the new id.
    Created(String),
    /// It already existed, with this id.
    Exists(String),
    /// It already existed and was updated.
    Updated(String),
    /// Invalid: nothing was sent.
    Skipped(Vec<Problem>),
    /// Retries exhausted or a fatal error.
    Failed {
        /// Why the call gave up.
        reason: Reason,
        /// What the last attempt brought: `HTTP 503`, `connection
        /// refused`; none when no attempt finished.
        last: Option<String>,
    },
}

/// One contact's outcome and what it cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The contact's external id.
    pub external_id: String,
    /// What happened.
    pub outcome: SyncOutcome,
    /// Requests sent for it (creates and updates; searches not counted).
    pub attempts: u32,
    /// Time spent waiting between attempts.
    pub waited: Duration,
}

struct Create<'a, A> {
    api: &'a mut A,
    contact: &'a Contact,
    endpoint: String,
}

impl<A: ContactApi> Hooks for Create<'_, A> {
    type Response = A::Response;
    type Id = String;

    fn send(&mut self, _: u32, timeout: Option<Duration>) -> Result<A::Response, NetworkError> {
        self.api.create(self.contact, timeout)
    }
    fn refresh_token(&mut self) -> Refresh {
        self.api.refresh_token()
    }
    fn find_existing(&mut self) -> Search<String> {
        self.api.find(&self.contact.external_id)
    }
    fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

struct Update<'a, A> {
    api: &'a mut A,
    contact: &'a Contact,
    id: &'a str,
    endpoint: String,
}

impl<A: ContactApi> Hooks for Update<'_, A> {
    type Response = A::Response;
    type Id = String;

    fn send(&mut self, _: u32, timeout: Option<Duration>) -> Result<A::Response, NetworkError> {
        self.api.update(self.id, self.contact, timeout)
    }
    fn refresh_token(&mut self) -> Refresh {
        self.api.refresh_token()
    }
    fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

fn failed<R: Response>(f: Failure<R>) -> SyncOutcome {
    SyncOutcome::Failed {
        reason: f.reason,
        last: f.last.map(|last| match last {
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.to_string(),
        }),
    }
}

/// Syncs one contact: validate, then create-or-find under `policy` (whose
/// `on_conflict` says whether an existing record is returned or updated).
pub fn sync_contact<A: ContactApi>(policy: &Policy, api: &mut A, contact: &Contact) -> SyncReport {
    let mut report = SyncReport {
        external_id: contact.external_id.clone(),
        outcome: SyncOutcome::Skipped(Vec::new()),
        attempts: 0,
        waited: Duration::ZERO,
    };
    // Every log record of this contact's calls carries its external id.
    let _span = tracing::info_span!("sync", contact = %contact.external_id).entered();
    let problems = contact.problems();
    if !problems.is_empty() {
        report.outcome = SyncOutcome::Skipped(problems);
        return report;
    }
    let request = Request::new(Method::Post).with_external_id();
    let mut create = Create {
        api,
        contact,
        endpoint: "/contacts".to_owned(),
    };
    let run = blocking::run(policy, request, Sharing::Alone, &mut create);
    report.attempts = run.attempts;
    report.waited = run.waited;
    report.outcome = match run.result {
        Ok(Completion::Success(r)) => SyncOutcome::Created(create.api.created_id(&r)),
        Ok(Completion::Existing(id)) => SyncOutcome::Exists(id),
        Ok(Completion::Update(id)) => {
            let mut update = Update {
                endpoint: format!("/contacts/{id}"),
                api: create.api,
                contact,
                id: &id,
            };
            let run: Run<A::Response, String> = blocking::run(
                policy,
                Request::new(Method::Put),
                Sharing::Alone,
                &mut update,
            );
            report.attempts += run.attempts;
            report.waited += run.waited;
            match run.result {
                Ok(_) => SyncOutcome::Updated(id),
                Err(f) => failed(f),
            }
        }
        Err(f) => failed(f),
    };
    report
}

/// Syncs every contact in order: exactly one report per contact.
pub fn sync_all<A: ContactApi>(
    policy: &Policy,
    api: &mut A,
    contacts: &[Contact],
) -> Vec<SyncReport> {
    contacts
        .iter()
        .map(|c| sync_contact(policy, api, c))
        .collect()
}

/// Counts of outcomes and what they cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Contacts created.
    pub created: usize,
    /// Contacts found existing.
    pub exists: usize,
    /// Contacts found existing and updated.
    pub updated: usize,
    /// Invalid contacts, never sent.
    pub skipped: usize,
    /// Contacts that failed.
    pub failed: usize,
    /// Requests sent.
    pub attempts: u64,
    /// Time waited between attempts.
    pub waited: Duration,
}

impl Summary {
    /// Adds up `reports`.
    pub fn of(reports: &[SyncReport]) -> Self {
        reports.iter().fold(Self::default(), |mut s, r| {
            match r.outcome {
                SyncOutcome::Created(_) => s.created += 1,
                SyncOutcome::Exists(_) => s.exists += 1,
                SyncOutcome::Updated(_) => s.updated += 1,
                SyncOutcome::Skipped(_) => s.skipped += 1,
                SyncOutcome::Failed { .. } => s.failed += 1,
            }
            s.attempts += u64::from(r.attempts);
            s.waited += r.waited;
            s
        })
    }

    /// All contacts accounted for.
    pub fn total(&self) -> usize {
        self.created + self.exists + self.updated + self.skipped + self.failed
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| Created | Exists | Updated | Skipped | Failed | Attempts | Total wait |"
        )?;
        writeln!(f, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")?;
        write!(
            f,
            "| {} | {} | {} | {} | {} | {} | {} |",
            self.created,
            self.exists,
            self.updated,
            self.skipped,
            self.failed,
            self.attempts,
            humantime::format_duration(Duration::from_millis(
                u64::try_from(self.waited.as_millis()).unwrap_or(u64::MAX)
            ))
        )
    }
}
