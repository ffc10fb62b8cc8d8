//! The README's property test of a custom policy, verbatim, so that it keeps
//! compiling and passing.

use proptest::prelude::*;
use steadfast::testing::drive;
use steadfast::{Method, Policy, PolicySpec, Request, Step};

proptest! {
    #[test]
    fn my_policy_never_misbehaves(steps in prop::collection::vec(any::<Step>(), 0..=24), seed in any::<u64>()) {
        let policy = Policy::new(PolicySpec { max_retries: 6, ..PolicySpec::default() }).unwrap();
        let request = Request::new(Method::Post).with_external_id();
        let run = drive(&policy, request, seed, &steps, None);
        run.check(&policy).map_err(TestCaseError::fail)?;
        prop_assert!(run.sends <= 9);
    }
}
