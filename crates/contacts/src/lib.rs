//! The contact domain of the integration guide steadfast started from:
//! validating contacts before any call, syncing them create-or-find keyed by
//! external id on steadfast's blocking driver, a ureq client for the API, and
//! the guide's situations as scripted scenarios.
//!
//! This crate is an application of the engine: the demo
//! (`cargo run -p steadfast-contacts --example demo`) syncs 24 contacts into
//! an embedded fault-injecting API.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod contact;
pub mod scenarios;
pub mod sync;
