//! The contact API over ureq: a [`ContactApi`] with a shared single-flight
//! token, used by the demo and the end-to-end tests.

use std::sync::Arc;
use std::time::Duration;

use steadfast::driver::Reply;
use steadfast::driver::TokenStore;
use steadfast::{NetworkError, Refresh, Search};

use crate::contact::Contact;
use crate::sync::ContactApi;

/// The contact API at one base URL, over a ureq agent.
pub struct UreqContacts {
    agent: ureq::Agent,
    base: String,
    token: Arc<TokenStore<String>>,
    /// The token generation the last request was sent with.
    generation: u64,
}

impl UreqContacts {
    /// A client for the API at `base`, holding its token in `token` (share
    /// one store across threads so that concurrent 401s refresh once).
    pub fn new(base: String, token: Arc<TokenStore<String>>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base,
            token,
            generation: 0,
        }
    }

    fn bearer(&mut self) -> String {
        let (generation, token) = self.token.current();
        self.generation = generation;
        format!("Bearer {token}")
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        timeout: Option<Duration>,
    ) -> Result<Reply, NetworkError> {
        let bearer = self.bearer();
        let url = format!("{}{}", self.base, path);
        let request = match method {
            "PUT" => self.agent.put(&url),
            _ => self.agent.post(&url),
        };
        let result = request
            .config()
            .timeout_global(timeout)
            .build()
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .send(body);
        Reply::from_ureq(result)
    }
}

fn id_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v.get("id")?.as_str()?.to_owned())
}

impl ContactApi for UreqContacts {
    type Response = Reply;

    fn create(
        &mut self,
        contact: &Contact,
        timeout: Option<Duration>,
    ) -> Result<Reply, NetworkError> {
        let body = serde_json::to_string(contact).expect("contacts serialize");
        self.send("POST", "/contacts", &body, timeout)
    }

    fn created_id(&self, response: &Reply) -> String {
        id_of(&response.body).unwrap_or_default()
    }

    fn find(&mut self, external_id: &str) -> Search<String> {
        let bearer = self.bearer();
        let url = format!("{}/contacts?externalId={external_id}", self.base);
        match Reply::from_ureq(self.agent.get(&url).header("Authorization", &bearer).call()) {
            Ok(r) if r.status == 200 => id_of(&r.body).map_or(Search::Failed, Search::Found),
            Ok(r) if r.status == 404 => Search::NotFound,
            _ => Search::Failed,
        }
    }

    fn update(
        &mut self,
        id: &str,
        contact: &Contact,
        timeout: Option<Duration>,
    ) -> Result<Reply, NetworkError> {
        let body = serde_json::to_string(contact).expect("contacts serialize");
        self.send("PUT", &format!("/contacts/{id}"), &body, timeout)
    }

    fn refresh_token(&mut self) -> Refresh {
        let (agent, url) = (self.agent.clone(), format!("{}/oauth/token", self.base));
        self.token.refresh(self.generation, || {
            let reply = Reply::from_ureq(agent.post(&url).send_empty()).ok()?;
            let v: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
            Some(v.get("access_token")?.as_str()?.to_owned())
        })
    }
}
