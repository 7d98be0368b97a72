//! The timeline of a call: every event with its time, captured on request.

use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;

use crate::class::{Cause, ErrorClass};
use crate::event::{CircuitState, Event, EventKind, StopReason};
use crate::hooks::Hooks;

/// One event of a call, with the time since the call started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimelineEntry {
    /// What happened.
    pub kind: EventKind,
    /// The attempt it is about.
    pub attempt: u32,
    /// Time since the call started.
    pub elapsed: Duration,
    /// The delay before the next attempt (`retry`, `scheduled`).
    pub delay: Duration,
    /// The class of the failure, if any.
    pub class: Option<ErrorClass>,
    /// The cause of the failure, if any.
    pub cause: Option<Cause>,
    /// Why the call stopped, on stop events.
    pub stop_reason: Option<StopReason>,
    /// The breaker state, on breaker events.
    pub state: Option<CircuitState>,
}

impl TimelineEntry {
    /// The entry for `event`.
    pub fn from_event(event: &Event<'_>) -> Self {
        TimelineEntry {
            kind: event.kind,
            attempt: event.attempt,
            elapsed: event.elapsed,
            delay: event.delay,
            class: event.class,
            cause: event.cause,
            stop_reason: event.stop_reason,
            state: event.state,
        }
    }
}

/// Every event of one call, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    entries: Vec<TimelineEntry>,
}

impl Timeline {
    /// The entries, in order.
    pub fn entries(&self) -> &[TimelineEntry] {
        &self.entries
    }

    /// The event kinds, in order.
    pub fn kinds(&self) -> impl Iterator<Item = EventKind> + '_ {
        self.entries.iter().map(|e| e.kind)
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
    fn on_event(&self, event: &Event<'_>) {
        self.0
            .borrow_mut()
            .entries
            .push(TimelineEntry::from_event(event));
    }
}
