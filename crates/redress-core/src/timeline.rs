//! The timeline of a call: every event with its time, captured on request.

use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;

use crate::class::{Cause, ErrorClass};
use crate::event::{Event, EventKind, StopReason};
use crate::hooks::{AttemptDecision, AttemptEnd, AttemptStart, CallEnd, CallStatus, Hooks};

/// One attempt of a call: when it started and ended, how it failed, and
/// what the engine decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// The attempt (1-based).
    pub attempt: u32,
    /// Time since the call started, when the attempt started.
    pub started: Duration,
    /// Time since the call started, when its fate was decided (`None` if the
    /// call ended before that, e.g. it was dropped).
    pub ended: Option<Duration>,
    /// What the engine decided.
    pub decision: Option<AttemptDecision>,
    /// The failure's class (`None` on success).
    pub class: Option<ErrorClass>,
    /// The failure's cause (`None` on success).
    pub cause: Option<Cause>,
    /// The delay before the next attempt (retry) or the deferred delay.
    pub delay: Option<Duration>,
    /// Why the call stopped, if it stopped at this attempt.
    pub stop_reason: Option<StopReason>,
}

/// Every event of one call, in order (each with its time since the call
/// started, `elapsed`), every attempt, and how the call ended.
///
/// The events are the ones hooks receive, without the operation name (the
/// caller knows it): see [`Event::without_operation`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    entries: Vec<Event<'static>>,
    attempts: Vec<AttemptRecord>,
    end: Option<CallStatus>,
}

impl Timeline {
    /// The events, in order.
    pub fn entries(&self) -> &[Event<'static>] {
        &self.entries
    }

    /// How the call ended.
    pub fn end(&self) -> Option<CallStatus> {
        self.end
    }

    /// The event kinds, in order.
    pub fn kinds(&self) -> impl Iterator<Item = EventKind> + '_ {
        self.entries.iter().map(|e| e.kind)
    }

    /// Every attempt: start, end, class, cause, delay and decision.
    pub fn attempts(&self) -> &[AttemptRecord] {
        &self.attempts
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no event was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Collects a timeline from the engine's events.
#[derive(Debug, Default)]
pub(crate) struct Recorder(RefCell<Timeline>);

impl Recorder {
    pub(crate) fn into_timeline(self) -> Timeline {
        self.0.into_inner()
    }
}

impl Hooks for Recorder {
    const SLEEP_HOOKS: bool = false;

    fn on_event(&self, event: &Event<'_>) {
        self.0.borrow_mut().entries.push(event.without_operation());
    }

    fn on_call_end(&self, end: &CallEnd<'_>) {
        self.0.borrow_mut().end = Some(end.status);
    }

    fn on_attempt_start(&self, attempt: &AttemptStart<'_>) {
        self.0.borrow_mut().attempts.push(AttemptRecord {
            attempt: attempt.attempt,
            started: attempt.elapsed,
            ended: None,
            decision: None,
            class: None,
            cause: None,
            delay: None,
            stop_reason: None,
        });
    }

    fn on_attempt_end(&self, end: &AttemptEnd<'_>) {
        let mut timeline = self.0.borrow_mut();
        let record = timeline
            .attempts
            .iter_mut()
            .rev()
            .find(|r| r.attempt == end.attempt);
        if let Some(record) = record {
            record.ended = Some(end.elapsed);
            record.decision = Some(end.decision);
            record.class = end.classification.map(|c| c.class);
            record.cause = end.cause;
            record.delay = end.delay;
            record.stop_reason = end.stop_reason;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::constant;
    use crate::policy::Policy;
    use crate::rng::FastRng;
    use crate::{Action, ErrorClass};

    #[test]
    fn attempts_are_recorded_with_their_decisions() {
        let policy = Policy::builder()
            .classifier(|_: &()| ErrorClass::ServerError)
            .strategy(constant(Duration::from_millis(100)))
            .max_attempts(2)
            .build()
            .unwrap();
        let site = policy.bind().capture_timeline();
        let mut now = Duration::ZERO;
        let mut rng = FastRng::seeded(1);
        let (mut exec, mut action) = site.start::<(), ()>(now);
        let outcome = loop {
            action = match action {
                Action::Attempt(_) => {
                    now += Duration::from_millis(10);
                    exec.record(Err(()), now, &mut rng)
                }
                Action::SleepHooks => unreachable!("no sleep hooks"),
                Action::Sleep(d) => {
                    now += d;
                    exec.resume(now)
                }
                Action::Done => break exec.finish(),
            };
        };
        let timeline = outcome.timeline.unwrap();
        let attempts = timeline.attempts();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].started, Duration::ZERO);
        assert_eq!(attempts[0].decision, Some(AttemptDecision::Retry));
        assert_eq!(attempts[0].delay, Some(Duration::from_millis(100)));
        assert_eq!(attempts[0].ended, Some(Duration::from_millis(110)));
        assert_eq!(attempts[1].started, Duration::from_millis(110));
        assert_eq!(attempts[1].decision, Some(AttemptDecision::Stop));
        assert_eq!(attempts[1].class, Some(ErrorClass::ServerError));
        assert_eq!(attempts[1].stop_reason, Some(StopReason::MaxAttemptsGlobal));
        assert_eq!(timeline.kinds().count(), 2);
        assert_eq!(
            timeline.end(),
            Some(CallStatus::Stopped(StopReason::MaxAttemptsGlobal))
        );
    }
}
