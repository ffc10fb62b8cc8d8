//! The single-flight rule both token stores share.

use crate::outcome::Refresh;

/// The single-flight rule both token stores share: a refresh for a
/// generation that is no longer current has already been done by another
/// caller.
pub(crate) fn install<T>(slot: &mut (u64, T), seen: u64, fetched: Option<T>) -> Refresh {
    match fetched {
        Some(token) => {
            *slot = (seen.wrapping_add(1), token);
            Refresh::Refreshed
        }
        None => Refresh::Failed,
    }
}
