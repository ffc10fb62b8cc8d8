//! What every limiter is to the limits: asked before each send, told how
//! it ended, asked to pay for a re-send, told when the call is over, and
//! handed back what a call held of it when the call will not report. Each
//! limiter implements the steps it takes part in; the limits ask them all
//! in their order (see `each_limiter!` in `mod.rs`). What a limiter holds
//! for a call (a send in flight, a probe, a charge) is one number in the
//! call's grant, its own slot.

use core::time::Duration;

use super::{Admission, Health, LimitsSnapshot, LimitsSpec, Resend, Steps};
use crate::headers::RateLimit;

/// A send about to start, as the limiters see it.
pub(crate) struct Ask<'a> {
    pub(crate) now: Duration,
    /// The call's first send (a percentage budget counts these).
    pub(crate) first_attempt: bool,
    /// The limits' settings.
    pub(crate) spec: &'a LimitsSpec,
    /// The call's own jitter source.
    pub(crate) rng: &'a mut fastrand::Rng,
    /// The tracker paced this send by a reading of the server's: set by
    /// the tracker, read by the limiters after it.
    pub(crate) by_reading: bool,
}

/// How an admitted send ended, as the limiters see it.
pub(crate) struct Landed<'a> {
    pub(crate) now: Duration,
    /// The response's rate-limit reading, if it carried one.
    pub(crate) reading: Option<&'a RateLimit>,
    /// Whether the policy calls the outcome a failure.
    pub(crate) health: Health,
}

/// One limiter. Every step's default is to take no part in it.
pub(crate) trait Limiter {
    /// Whether a send may start: `Ok(hold)`, with what the limiter holds
    /// for the send (kept in its slot until the send lands or is given
    /// back), or the limits' answer instead of a grant.
    #[inline]
    fn admit<H: Steps + ?Sized>(
        &mut self,
        _steps: &mut H,
        _ask: &mut Ask<'_>,
    ) -> Result<Option<u32>, Admission> {
        Ok(None)
    }

    /// The admitted send landed; `hold` is the limiter's slot.
    #[inline]
    fn landed<H: Steps + ?Sized>(
        &mut self,
        _steps: &mut H,
        _hold: &mut Option<u32>,
        _news: &Landed<'_>,
    ) {
    }

    /// A re-send asks to be paid for; `false` refuses it.
    #[inline]
    fn charge<H: Steps + ?Sized>(
        &mut self,
        _steps: &mut H,
        _hold: &mut Option<u32>,
        _resend: Resend,
        _spec: &LimitsSpec,
        _now: Duration,
        _after_timeout: bool,
    ) -> bool {
        true
    }

    /// The call is over; `succeeded`: it ended in a success.
    #[inline]
    fn finish(&mut self, _hold: &mut Option<u32>, _succeeded: bool) {}

    /// The call will not report, or a later limiter refused the send: what
    /// this one held for it comes back.
    fn release<H: Steps + ?Sized>(&mut self, _steps: &mut H, _hold: u32, _now: Duration) {}

    /// Writes what the limiter knows at `now` into `snapshot`.
    fn show(&mut self, now: Duration, snapshot: &mut LimitsSnapshot);

    /// Forgets everything. A hold made before is stale (reporting or
    /// releasing it changes nothing) except a budget's charge, which a
    /// success still refunds.
    fn reset(&mut self);
}

/// A limiter the policy may leave out.
impl<L: Limiter> Limiter for Option<L> {
    #[inline]
    fn admit<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        ask: &mut Ask<'_>,
    ) -> Result<Option<u32>, Admission> {
        self.as_mut().map_or(Ok(None), |l| l.admit(steps, ask))
    }

    #[inline]
    fn landed<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        hold: &mut Option<u32>,
        news: &Landed<'_>,
    ) {
        if let Some(l) = self {
            l.landed(steps, hold, news);
        }
    }

    #[inline]
    fn charge<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        hold: &mut Option<u32>,
        resend: Resend,
        spec: &LimitsSpec,
        now: Duration,
        after_timeout: bool,
    ) -> bool {
        self.as_mut().map_or(true, |l| {
            l.charge(steps, hold, resend, spec, now, after_timeout)
        })
    }

    #[inline]
    fn finish(&mut self, hold: &mut Option<u32>, succeeded: bool) {
        if let Some(l) = self {
            l.finish(hold, succeeded);
        }
    }

    fn release<H: Steps + ?Sized>(&mut self, steps: &mut H, hold: u32, now: Duration) {
        if let Some(l) = self {
            l.release(steps, hold, now);
        }
    }

    fn show(&mut self, now: Duration, snapshot: &mut LimitsSnapshot) {
        if let Some(l) = self {
            l.show(now, snapshot);
        }
    }

    fn reset(&mut self) {
        if let Some(l) = self {
            l.reset();
        }
    }
}
