//! What a call reports: [`Outcome`] (from `execute`) and [`RetryError`]
//! (from `call`).
//!
//! Nothing is lost: when a call stops without success, the caller gets the
//! last error the operation returned, or the last value the result
//! classifier flagged, inside the outcome or the error.

use core::error::Error;
use core::fmt;
use core::time::Duration;

use crate::class::{Cause, ErrorClass};
use crate::event::StopReason;

/// The last failure of a call that did not succeed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure<E, T> {
    /// The operation's last error.
    Error(E),
    /// The last value the result classifier flagged.
    Value(T),
    /// The last attempt overran the policy's attempt timeout (this long) and
    /// was cancelled.
    TimedOut(core::time::Duration),
    /// No attempt finished: the call was rejected by a circuit breaker,
    /// aborted before its first attempt, or abandoned by its runner while an
    /// attempt was running.
    NotAttempted,
}

impl<E, T> Failure<E, T> {
    /// The error, when the last failure was one.
    pub fn error(&self) -> Option<&E> {
        match self {
            Failure::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The flagged value, when the last failure was one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Failure::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Takes the error out.
    pub fn into_error(self) -> Option<E> {
        match self {
            Failure::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Takes the flagged value out.
    pub fn into_value(self) -> Option<T> {
        match self {
            Failure::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<E: fmt::Debug, T> fmt::Debug for Failure<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => f.debug_tuple("Error").field(e).finish(),
            Failure::Value(_) => write!(f, "Value(<{}>)", core::any::type_name::<T>()),
            Failure::TimedOut(after) => f.debug_tuple("TimedOut").field(after).finish(),
            Failure::NotAttempted => f.write_str("NotAttempted"),
        }
    }
}

/// Everything `execute` knows about a finished call.
///
/// ```
/// use core::time::Duration;
/// use redress_core::{Failure, Outcome, StopReason};
///
/// fn report(outcome: &Outcome<String, std::io::Error>) -> String {
///     match &outcome.result {
///         Ok(body) => format!("ok after {} attempts: {body}", outcome.attempts),
///         Err(Failure::Error(e)) => format!("{:?}: {e}", outcome.stop_reason),
///         Err(_) => "no attempt ran".to_string(),
///     }
/// }
/// ```
#[non_exhaustive]
pub struct Outcome<T, E> {
    /// The value, or the last failure.
    pub result: Result<T, Failure<E, T>>,
    /// Why the call stopped (`None` on success).
    pub stop_reason: Option<StopReason>,
    /// Attempts made (0 when none ran).
    pub attempts: u32,
    /// The class of the last failure (`None` on success).
    pub last_class: Option<ErrorClass>,
    /// The cause of the last failure (`None` on success).
    pub cause: Option<Cause>,
    /// Time from the start of the call to its end.
    pub elapsed: Duration,
    /// The delay the caller should wait before trying again itself: the
    /// deferred delay when the sleep hook deferred the retry
    /// ([`StopReason::Scheduled`]), the server's retry-after hint when it
    /// was beyond the deadline ([`StopReason::RetryAfterBeyondDeadline`]),
    /// or the time until the breaker admits a probe when it rejected the
    /// call ([`StopReason::CircuitOpen`]; `None` while a probe is in
    /// flight).
    pub next_delay: Option<Duration>,
    /// Every event of the call, when capture was requested.
    #[cfg(feature = "alloc")]
    pub timeline: Option<crate::timeline::Timeline>,
}

impl<T, E> Outcome<T, E> {
    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// Whether a circuit breaker rejected the call.
    pub fn is_circuit_open(&self) -> bool {
        self.stop_reason == Some(StopReason::CircuitOpen)
    }

    /// The value, when the call succeeded.
    pub fn value(&self) -> Option<&T> {
        self.result.as_ref().ok()
    }

    /// The last error, when the call failed on one.
    pub fn last_error(&self) -> Option<&E> {
        self.result.as_ref().err().and_then(Failure::error)
    }

    /// The last flagged value, when the call failed on one.
    pub fn last_value(&self) -> Option<&T> {
        self.result.as_ref().err().and_then(Failure::value)
    }

    /// The outcome as `call` reports it.
    pub fn into_result(self) -> Result<T, RetryError<E, T>> {
        match self.result {
            Ok(v) => Ok(v),
            Err(failure) => Err(RetryError {
                failure,
                stop_reason: self.stop_reason.unwrap_or(StopReason::MaxAttemptsGlobal),
                attempts: self.attempts,
                last_class: self.last_class,
                cause: self.cause,
                elapsed: self.elapsed,
                next_delay: self.next_delay,
            }),
        }
    }
}

impl<T, E: fmt::Debug> fmt::Debug for Outcome<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Outcome");
        match &self.result {
            Ok(_) => d.field(
                "result",
                &format_args!("Ok(<{}>)", core::any::type_name::<T>()),
            ),
            Err(failure) => d.field("result", &format_args!("Err({failure:?})")),
        };
        d.field("stop_reason", &self.stop_reason)
            .field("attempts", &self.attempts)
            .field("last_class", &self.last_class)
            .field("cause", &self.cause)
            .field("elapsed", &self.elapsed)
            .field("next_delay", &self.next_delay)
            .finish_non_exhaustive()
    }
}

/// Why `call` gave up, with the last error or flagged value.
///
/// It implements [`Error`] whenever `E` does: its `Display` says what
/// stopped the call and after how many attempts, and its `source()` is the
/// last error, so `?` works with `Box<dyn Error>` and `anyhow`, and
/// `anyhow`'s `{:#}` prints each part once.
///
/// ```
/// use redress_core::{ErrorClass, Failure, RetryError, StopReason};
///
/// fn explain(err: RetryError<std::io::Error, ()>) -> String {
///     match (err.stop_reason, err.last_error()) {
///         (StopReason::NonRetryableClass, Some(e)) => format!("refused: {e}"),
///         // "gave up after 3 attempts: the deadline passed (last failure: TRANSIENT): reset"
///         (_, Some(e)) => format!("{err}: {e}"),
///         _ => err.to_string(),
///     }
/// }
/// ```
#[non_exhaustive]
pub struct RetryError<E, T = ()> {
    /// The last error or flagged value.
    pub failure: Failure<E, T>,
    /// Why the call stopped.
    pub stop_reason: StopReason,
    /// Attempts made.
    pub attempts: u32,
    /// The class of the last failure.
    pub last_class: Option<ErrorClass>,
    /// The cause of the last failure.
    pub cause: Option<Cause>,
    /// Time the call took.
    pub elapsed: Duration,
    /// The delay to wait before trying again: the deferred delay
    /// (`SCHEDULED`), or the time until a breaker probe (`CIRCUIT_OPEN`).
    pub next_delay: Option<Duration>,
}

impl<E, T> RetryError<E, T> {
    /// The last error, when the call failed on one.
    pub fn last_error(&self) -> Option<&E> {
        self.failure.error()
    }

    /// Takes the last error out.
    pub fn into_last_error(self) -> Option<E> {
        self.failure.into_error()
    }

    /// The last flagged value, when the call failed on one.
    pub fn last_value(&self) -> Option<&T> {
        self.failure.value()
    }

    /// Takes the last flagged value out.
    pub fn into_last_value(self) -> Option<T> {
        self.failure.into_value()
    }

    /// Whether a circuit breaker rejected the call.
    pub fn is_circuit_open(&self) -> bool {
        self.stop_reason == StopReason::CircuitOpen
    }
}

impl<E: fmt::Debug, T> fmt::Debug for RetryError<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryError")
            .field("stop_reason", &self.stop_reason)
            .field("attempts", &self.attempts)
            .field("last_class", &self.last_class)
            .field("failure", &self.failure)
            .field("elapsed", &self.elapsed)
            .field("next_delay", &self.next_delay)
            .finish_non_exhaustive()
    }
}

/// Says what stopped the call and after how many attempts, in words. The
/// last error is not repeated: it is the [`source`](Error::source), which
/// error reporters (`anyhow`'s `{:#}`, `eyre`) print after this. A last
/// failure that is not an error (a flagged value, a timed-out attempt) is
/// described here, since no source carries it.
impl<E, T> fmt::Display for RetryError<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = self.stop_reason.describe();
        match self.attempts {
            0 => write!(f, "not attempted: {why}")?,
            1 => write!(f, "gave up after 1 attempt: {why}")?,
            n => write!(f, "gave up after {n} attempts: {why}")?,
        }
        match (&self.failure, self.last_class) {
            (Failure::Error(_), Some(class)) => write!(f, " (last failure: {class})"),
            (Failure::Value(_), Some(class)) => {
                write!(f, " (the last result was flagged as {class})")
            }
            (Failure::Value(_), None) => f.write_str(" (the last result was flagged)"),
            (Failure::TimedOut(after), _) => {
                write!(f, " (the last attempt timed out after {after:?})")
            }
            (Failure::Error(_) | Failure::NotAttempted, _) => Ok(()),
        }
    }
}

impl<E: Error + 'static, T> Error for RetryError<E, T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.failure.error().map(|e| e as &(dyn Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    fn err(
        failure: Failure<&'static str, u8>,
        reason: StopReason,
        attempts: u32,
    ) -> RetryError<&'static str, u8> {
        RetryError {
            failure,
            stop_reason: reason,
            attempts,
            last_class: Some(ErrorClass::ServerError),
            cause: Some(Cause::Result),
            elapsed: Duration::ZERO,
            next_delay: None,
        }
    }

    #[test]
    fn display_says_why_in_words_and_leaves_the_error_to_source() {
        let e = err(Failure::Error("boom"), StopReason::MaxAttemptsGlobal, 3);
        assert_eq!(
            e.to_string(),
            "gave up after 3 attempts: the attempt limit was reached (last failure: SERVER_ERROR)"
        );
        assert!(!e.to_string().contains("boom"));
        assert_eq!(
            err(Failure::Value(7), StopReason::DeadlineExceeded, 1).to_string(),
            "gave up after 1 attempt: the deadline passed (the last result was flagged as SERVER_ERROR)"
        );
        assert_eq!(
            err(
                Failure::TimedOut(Duration::from_secs(1)),
                StopReason::DeadlineExceeded,
                2
            )
            .to_string(),
            "gave up after 2 attempts: the deadline passed (the last attempt timed out after 1s)"
        );
        let rejected = err(Failure::NotAttempted, StopReason::CircuitOpen, 0);
        assert!(rejected.is_circuit_open());
        assert_eq!(
            rejected.to_string(),
            "not attempted: the circuit breaker is open"
        );
    }

    #[test]
    fn the_last_error_is_the_source_and_printed_once() {
        #[derive(Debug)]
        struct Reset;
        impl fmt::Display for Reset {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("peer reset")
            }
        }
        impl Error for Reset {}
        let e: RetryError<Reset, ()> = RetryError {
            failure: Failure::Error(Reset),
            stop_reason: StopReason::MaxAttemptsGlobal,
            attempts: 2,
            last_class: Some(ErrorClass::Transient),
            cause: Some(Cause::Error),
            elapsed: Duration::ZERO,
            next_delay: None,
        };
        // What an error reporter prints: the error, then each source.
        let mut chain = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        assert_eq!(
            chain,
            "gave up after 2 attempts: the attempt limit was reached (last failure: TRANSIENT): peer reset"
        );
        assert_eq!(chain.matches("peer reset").count(), 1);
    }

    #[test]
    fn nothing_is_lost() {
        assert_eq!(
            err(Failure::Value(7), StopReason::Scheduled, 1).into_last_value(),
            Some(7)
        );
        assert_eq!(
            err(Failure::Error("e"), StopReason::Aborted, 1).into_last_error(),
            Some("e")
        );
    }
}
