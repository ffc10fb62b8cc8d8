//! Replays the source guide's scenarios through the engine and prints each
//! decision trace. Virtual time: the whole run takes milliseconds.
//!
//! ```text
//! cargo run --example guide_scenarios
//! ```

fn main() {
    for scenario in steadfast_contacts::scenarios::all() {
        println!("== {}: {}", scenario.name, scenario.about);
        println!("{}\n", scenario.run());
    }
}
