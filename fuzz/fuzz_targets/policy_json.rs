//! Policy deserialization from arbitrary JSON: never a panic; anything
//! accepted is valid and round-trips. serde_json needs `float_roundtrip`
//! for that: without it a 65-digit `factor` reads back one ulp off (CI found
//! it; the input is `corpus/policy_json/regress-float-roundtrip.json`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::Policy;

fuzz_target!(|data: &[u8]| {
    if let Ok(policy) = serde_json::from_slice::<Policy>(data) {
        assert_eq!(Policy::new(policy.spec().clone()).as_ref(), Ok(&policy));
        let json = serde_json::to_string(&policy).expect("a valid policy serializes");
        let back: Policy = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(back, policy);
    }
});
