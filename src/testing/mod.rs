//! A kit for property-testing retry policies (feature `testing`): what a
//! server may answer, as a proptest strategy (`any::<Step>()`, from the
//! [`Arbitrary`](proptest::arbitrary::Arbitrary) impl of [`Step`](crate::Step)),
//! a virtual-time runner that drives a call through a list of steps,
//! checking its contract, and records everything ([`drive`]), and the
//! invariants it must keep, to check from your own `proptest!`
//! ([`Trace::check`](crate::Trace::check)). The crate's own property tests
//! are written with it.
//!
//! ```
//! use proptest::prelude::*;
//! use steadfast::testing::drive;
//! use steadfast::{Method, Policy, Request, Step};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(64))]
//!     // In your tests/: put #[test] above this line.
//!     fn my_policy_holds(steps in prop::collection::vec(any::<Step>(), 0..=16), seed in any::<u64>()) {
//!         let policy = Policy::seed_guide();
//!         let run = drive(&policy, Request::new(Method::Post).with_external_id(), seed, &steps, None);
//!         run.check(&policy).map_err(TestCaseError::fail)?;
//!     }
//! }
//! # my_policy_holds();
//! ```

mod invariants;
mod runner;
mod strategies;
#[cfg(test)]
mod tests;

pub use runner::drive;
