//! A kit for property-testing retry policies (feature `testing`): proptest
//! strategies for what a server may answer ([`strategies`]), a
//! virtual-time runner that drives a call through a list of answers and
//! records everything ([`drive`]), and the invariants it must keep, to
//! check from your own `proptest!` ([`Trace::check`](crate::Trace::check)). The crate's own property tests are
//! written with it.
//!
//! ```
//! use proptest::prelude::*;
//! use steadfast::testing::{drive, strategies};
//! use steadfast::{Method, Policy, Request};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(64))]
//!     // In your tests/: put #[test] above this line.
//!     fn my_policy_holds(answers in strategies::answers(16), seed in any::<u64>()) {
//!         let policy = Policy::seed_guide();
//!         let run = drive(&policy, Request::new(Method::Post).with_external_id(), seed, &answers, None);
//!         run.check(&policy).map_err(TestCaseError::fail)?;
//!     }
//! }
//! # my_policy_holds();
//! ```

mod invariants;
mod runner;
pub mod strategies;
#[cfg(test)]
mod tests;

pub use runner::{drive, Answer};
