//! The crate's own properties, written with the kit: over random policies
//! and answers, and over many calls sharing one `Limits`.

mod limits;
mod policies;
mod properties;
