//! A kit for property-testing retry policies (feature `testing`): proptest
//! strategies for what a server may answer ([`strategies`]), a
//! virtual-time runner that drives a call through a list of answers and
//! records everything ([`drive`]), and invariant checks to call from your
//! own `proptest!` ([`invariants`]). The crate's own property tests are
//! written with it.
//!
//! ```
//! use proptest::prelude::*;
//! use steadfast::testing::{drive, invariants, strategies};
//! use steadfast::{Method, Policy, Request};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(64))]
//!     // In your tests/: put #[test] above this line.
//!     fn my_policy_holds(answers in strategies::answers(16), seed in any::<u64>()) {
//!         let policy = Policy::seed_guide();
//!         let run = drive(&policy, Request::new(Method::Post).with_external_id(), seed, &answers, None);
//!         invariants::check_all(&policy, &run).map_err(TestCaseError::fail)?;
//!     }
//! }
//! # my_policy_holds();
//! ```

pub mod invariants;
mod runner;
pub mod strategies;
#[cfg(test)]
mod tests;

pub use runner::{drive, Answer, Run};
