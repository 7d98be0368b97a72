//! SQLSTATE codes to classes: redress's one PostgreSQL table.

use redress_core::{Classification, ErrorClass};

use ErrorClass::{
    Auth, Concurrency, Permanent, Permission, RateLimit, ServerError, Transient, Unknown,
};

/// A SQLSTATE the table knows by its full code.
#[derive(Clone, Copy, Debug)]
struct Code {
    code: &'static str,
    class: ErrorClass,
    name: &'static str,
}

/// A SQLSTATE class (the first two characters of a code).
#[derive(Clone, Copy, Debug)]
struct Class {
    prefix: &'static str,
    class: ErrorClass,
}

const fn code(code: &'static str, class: ErrorClass, name: &'static str) -> Code {
    Code { code, class, name }
}

const fn class(prefix: &'static str, class: ErrorClass) -> Class {
    Class { prefix, class }
}

/// Codes whose class differs from their SQLSTATE class's, and the common
/// codes of every class (so that their tag is the full code).
const CODES: &[Code] = &[
    // 08: connection exception. Transient, but for two.
    code("08000", Transient, "connection_exception"),
    code("08003", Transient, "connection_does_not_exist"),
    code("08006", Transient, "connection_failure"),
    code(
        "08001",
        Transient,
        "sqlclient_unable_to_establish_sqlconnection",
    ),
    code(
        "08004",
        Transient,
        "sqlserver_rejected_establishment_of_sqlconnection",
    ),
    code("08007", Unknown, "transaction_resolution_unknown"),
    code("08P01", Permanent, "protocol_violation"),
    // 22: data exception.
    code("22000", Permanent, "data_exception"),
    code("22001", Permanent, "string_data_right_truncation"),
    code("22003", Permanent, "numeric_value_out_of_range"),
    code("22007", Permanent, "invalid_datetime_format"),
    code("22008", Permanent, "datetime_field_overflow"),
    code("22012", Permanent, "division_by_zero"),
    code("22023", Permanent, "invalid_parameter_value"),
    code("22P02", Permanent, "invalid_text_representation"),
    // 23: integrity constraint violation.
    code("23000", Permanent, "integrity_constraint_violation"),
    code("23001", Permanent, "restrict_violation"),
    code("23502", Permanent, "not_null_violation"),
    code("23503", Permanent, "foreign_key_violation"),
    code("23505", Permanent, "unique_violation"),
    code("23514", Permanent, "check_violation"),
    code("23P01", Permanent, "exclusion_violation"),
    // 25: invalid transaction state.
    code("25000", Permanent, "invalid_transaction_state"),
    code("25001", Permanent, "active_sql_transaction"),
    code("25006", Permanent, "read_only_sql_transaction"),
    code("25P02", Permanent, "in_failed_sql_transaction"),
    code("25P03", Transient, "idle_in_transaction_session_timeout"),
    // 28: invalid authorization specification.
    code("28000", Auth, "invalid_authorization_specification"),
    code("28P01", Auth, "invalid_password"),
    // 3D, 3F: the database or schema does not exist.
    code("3D000", Permanent, "invalid_catalog_name"),
    code("3F000", Permanent, "invalid_schema_name"),
    // 40: transaction rollback.
    code("40000", Concurrency, "transaction_rollback"),
    code("40001", Concurrency, "serialization_failure"),
    code(
        "40002",
        Permanent,
        "transaction_integrity_constraint_violation",
    ),
    code("40003", Unknown, "statement_completion_unknown"),
    code("40P01", Concurrency, "deadlock_detected"),
    // 42: syntax error or access rule violation.
    code("42000", Permanent, "syntax_error_or_access_rule_violation"),
    code("42501", Permission, "insufficient_privilege"),
    code("42601", Permanent, "syntax_error"),
    code("42703", Permanent, "undefined_column"),
    code("42804", Permanent, "datatype_mismatch"),
    code("42883", Permanent, "undefined_function"),
    code("42P01", Permanent, "undefined_table"),
    code("42P07", Permanent, "duplicate_table"),
    code("42710", Permanent, "duplicate_object"),
    // 53: insufficient resources.
    code("53000", RateLimit, "insufficient_resources"),
    code("53100", RateLimit, "disk_full"),
    code("53200", RateLimit, "out_of_memory"),
    code("53300", RateLimit, "too_many_connections"),
    code("53400", RateLimit, "configuration_limit_exceeded"),
    // 54: program limit exceeded.
    code("54000", Permanent, "program_limit_exceeded"),
    code("54001", Permanent, "statement_too_complex"),
    // 55: object not in prerequisite state.
    code("55000", Permanent, "object_not_in_prerequisite_state"),
    code("55006", Concurrency, "object_in_use"),
    code("55P03", Concurrency, "lock_not_available"),
    // 57: operator intervention.
    code("57000", Transient, "operator_intervention"),
    code("57014", Transient, "query_canceled"),
    code("57P01", Transient, "admin_shutdown"),
    code("57P02", Transient, "crash_shutdown"),
    code("57P03", Transient, "cannot_connect_now"),
    code("57P04", Permanent, "database_dropped"),
    code("57P05", Transient, "idle_session_timeout"),
    // 58: system error (errors external to PostgreSQL itself).
    code("58000", ServerError, "system_error"),
    code("58030", ServerError, "io_error"),
    // 72: snapshot too old.
    code("72000", Concurrency, "snapshot_too_old"),
    // P0: PL/pgSQL error (RAISE and friends in your functions).
    code("P0001", Permanent, "raise_exception"),
    // XX: internal error.
    code("XX000", ServerError, "internal_error"),
    code("XX001", Permanent, "data_corrupted"),
    code("XX002", Permanent, "index_corrupted"),
];

/// Every SQLSTATE class PostgreSQL defines, with the class of its codes
/// that [`CODES`] does not list.
const CLASSES: &[Class] = &[
    // Not errors: success, warning, no data, statement not yet complete.
    class("00", Unknown),
    class("01", Unknown),
    class("02", Unknown),
    class("03", Unknown),
    class("08", Transient),
    class("09", Permanent),
    class("0A", Permanent),
    class("0B", Permanent),
    class("0F", Permanent),
    class("0L", Permanent),
    class("0P", Permanent),
    class("0Z", Permanent),
    class("20", Permanent),
    class("21", Permanent),
    class("22", Permanent),
    class("23", Permanent),
    class("24", Permanent),
    class("25", Permanent),
    class("26", Permanent),
    class("27", Permanent),
    class("28", Auth),
    class("2B", Permanent),
    class("2D", Permanent),
    class("2F", Permanent),
    class("34", Permanent),
    class("38", Permanent),
    class("39", Permanent),
    class("3B", Permanent),
    class("3D", Permanent),
    class("3F", Permanent),
    class("40", Concurrency),
    class("42", Permanent),
    class("44", Permanent),
    class("53", RateLimit),
    class("54", Permanent),
    class("55", Permanent),
    class("57", Transient),
    class("58", ServerError),
    class("72", Concurrency),
    class("F0", ServerError),
    class("HV", Unknown),
    class("P0", Permanent),
    class("XX", ServerError),
];

fn known_code(sqlstate: &str) -> Option<&'static Code> {
    CODES
        .iter()
        .find(|row| row.code.eq_ignore_ascii_case(sqlstate))
}

fn known_class(sqlstate: &str) -> Option<&'static Class> {
    let prefix = sqlstate.get(..2)?;
    if sqlstate.len() != 5 {
        return None;
    }
    CLASSES
        .iter()
        .find(|row| row.prefix.eq_ignore_ascii_case(prefix))
}

/// The class of the SQLSTATE `sqlstate`: redress's one PostgreSQL table.
///
/// A code the table lists has its own row; any other code takes its
/// SQLSTATE class's (its first two characters); a code of no known class
/// is `UNKNOWN`.
///
/// | SQLSTATE | class | retried | why |
/// |---|---|---|---|
/// | `40001` serialization_failure, `40P01` deadlock_detected, other class `40` (transaction rollback) | `CONCURRENCY` | yes | a concurrent transaction won; PostgreSQL's own advice is to run the whole transaction again |
/// | `55P03` lock_not_available (`NOWAIT`, `lock_timeout`), `55006` object_in_use | `CONCURRENCY` | yes | another session holds what this one needs |
/// | `72000` snapshot_too_old | `CONCURRENCY` | yes | a new transaction gets a new snapshot |
/// | class `08` (connection exception) | `TRANSIENT` | yes | the connection failed or could not be made |
/// | `57P01` admin_shutdown, `57P02` crash_shutdown, `57P03` cannot_connect_now, `57014` query_canceled, `57P05` idle_session_timeout, other class `57` | `TRANSIENT` | yes | the server is stopping, starting or recovering, or cut this session or statement off: a new attempt (on a new connection) works once it is back |
/// | `25P03` idle_in_transaction_session_timeout | `TRANSIENT` | yes | the server closed a session left idle in a transaction |
/// | `53300` too_many_connections, other class `53` (insufficient resources: disk full, out of memory, configuration limit) | `RATE_LIMIT` | yes | the server is out of a resource: back off and let others finish. Disk full will not clear by itself: cap `RATE_LIMIT` attempts |
/// | class `58` (system error), class `F0`, `XX000` internal_error, other class `XX` | `SERVER_ERROR` | yes | the server failed |
/// | class `28` (invalid authorization specification, invalid password) | `AUTH` | no | the credentials are wrong |
/// | `42501` insufficient_privilege | `PERMISSION` | no | the role may not do this |
/// | class `23` (integrity constraint violation: unique, foreign key, not null, check, exclusion) | `PERMANENT` | no | the data breaks a rule; the same statement breaks it again |
/// | class `22` (data exception), class `42` but `42501` (syntax error, undefined table or column, ...) | `PERMANENT` | no | the statement itself is wrong |
/// | `40002` transaction_integrity_constraint_violation | `PERMANENT` | no | a deferred constraint failed at commit: an integrity violation |
/// | `25P02` in_failed_sql_transaction, `25006` read_only_sql_transaction, other class `25` | `PERMANENT` | no | the transaction is in the wrong state for the statement: a bug in the caller |
/// | `08P01` protocol_violation | `PERMANENT` | no | the client broke the protocol: a bug, not a network problem |
/// | `57P04` database_dropped, `XX001` data_corrupted, `XX002` index_corrupted | `PERMANENT` | no | will not get better by waiting |
/// | classes `0A`, `09`, `0B`, `0F`, `0L`, `0P`, `0Z`, `20`, `21`, `24`, `26`, `27`, `2B`, `2D`, `2F`, `34`, `38`, `39`, `3B`, `3D`, `3F`, `44`, `54`, `55`, `P0` | `PERMANENT` | no | the request or the schema is wrong (feature not supported, cursor and routine errors, missing database or schema, `RAISE` in PL/pgSQL, ...) |
/// | `08007` transaction_resolution_unknown, `40003` statement_completion_unknown | `UNKNOWN` | at most `max_unknown_attempts` | the server cannot say whether the work was done |
/// | classes `00`, `01`, `02`, `03` (not errors), `HV` (foreign data wrapper), any other | `UNKNOWN` | at most `max_unknown_attempts` | nothing says a retry helps |
///
/// A failure that comes with no SQLSTATE at all, such as a connection lost
/// while `COMMIT` was on its way, is not in this table: see the crate's
/// classifier and its transaction helpers for what they do with it.
///
/// ```
/// use redress_core::ErrorClass;
/// use redress_postgres::sqlstate_class;
///
/// assert_eq!(sqlstate_class("40001"), ErrorClass::Concurrency);
/// assert_eq!(sqlstate_class("23505"), ErrorClass::Permanent);
/// // Not in the table by its code, but class 08 is.
/// assert_eq!(sqlstate_class("08999"), ErrorClass::Transient);
/// ```
pub fn sqlstate_class(sqlstate: &str) -> ErrorClass {
    match known_code(sqlstate) {
        Some(row) => row.class,
        None => known_class(sqlstate).map_or(Unknown, |row| row.class),
    }
}

/// PostgreSQL's condition name for `sqlstate` (`"serialization_failure"`
/// for `40001`), when the table lists the code.
///
/// ```
/// assert_eq!(redress_postgres::sqlstate_name("40P01"), Some("deadlock_detected"));
/// assert_eq!(redress_postgres::sqlstate_name("08999"), None);
/// ```
pub fn sqlstate_name(sqlstate: &str) -> Option<&'static str> {
    known_code(sqlstate).map(|row| row.name)
}

/// `sqlstate` as a static string, when the table lists it.
#[cfg(feature = "tokio-postgres")]
pub(crate) fn static_code(sqlstate: &str) -> Option<&'static str> {
    known_code(sqlstate).map(|row| row.code)
}

/// The classification of a failure with the SQLSTATE `sqlstate`: its
/// class from the table ([`sqlstate_class`]), a low-cardinality `err` tag,
/// and the SQLSTATE as a detail.
///
/// A code the table lists is its own tag and the `sqlstate` detail
/// (`40001`). Another code of a known class is tagged with the class
/// (`08`) and has the detail `sqlstate_class`; the tag of a code of no
/// known class is `sqlstate`. Tags and details are static strings, so an
/// unexpected code cannot grow a metric's label set.
///
/// ```
/// use redress_core::ErrorClass;
/// use redress_postgres::classify_sqlstate;
///
/// let c = classify_sqlstate("40P01");
/// assert_eq!((c.class, c.tag), (ErrorClass::Concurrency, Some("40P01")));
/// assert_eq!(c.details.get("sqlstate"), Some("40P01"));
///
/// let c = classify_sqlstate("08999");
/// assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("08")));
/// assert_eq!(c.details.get("sqlstate_class"), Some("08"));
/// ```
pub fn classify_sqlstate(sqlstate: &str) -> Classification {
    if let Some(row) = known_code(sqlstate) {
        return Classification::new(row.class)
            .with_tag(row.code)
            .with_detail("sqlstate", row.code);
    }
    match known_class(sqlstate) {
        Some(row) => Classification::new(row.class)
            .with_tag(row.prefix)
            .with_detail("sqlstate_class", row.prefix),
        None => Classification::new(Unknown).with_tag("sqlstate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_table_holds() {
        let expect = [
            ("40001", Concurrency),
            ("40P01", Concurrency),
            ("08000", Transient),
            ("08006", Transient),
            ("08001", Transient),
            ("57P01", Transient),
            ("57P02", Transient),
            ("57P03", Transient),
            ("53300", RateLimit),
            ("53100", RateLimit),
            ("53200", RateLimit),
            ("55P03", Concurrency),
            ("28000", Auth),
            ("28P01", Auth),
            ("42501", Permission),
            ("23505", Permanent),
            ("23503", Permanent),
            ("22012", Permanent),
            ("22P02", Permanent),
            ("42601", Permanent),
            ("42P01", Permanent),
        ];
        for (code, class) in expect {
            assert_eq!(sqlstate_class(code), class, "{code}");
            assert_eq!(classify_sqlstate(code).tag, Some(code));
        }
    }

    #[test]
    fn every_row_is_well_formed_and_listed_once() {
        for row in CODES {
            assert_eq!(row.code.len(), 5, "{}", row.code);
            assert!(
                row.code
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            );
            assert!(known_class(row.code).is_some(), "{} has no class", row.code);
            assert_eq!(CODES.iter().filter(|r| r.code == row.code).count(), 1);
            assert!(
                row.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
        for row in CLASSES {
            assert_eq!(row.prefix.len(), 2);
            assert_eq!(CLASSES.iter().filter(|r| r.prefix == row.prefix).count(), 1);
        }
    }

    #[test]
    fn unknown_codes_take_their_class_and_a_static_tag() {
        let c = classify_sqlstate("53999");
        assert_eq!((c.class, c.tag), (RateLimit, Some("53")));
        assert_eq!(c.details.get("sqlstate"), None);
        assert_eq!(c.details.get("sqlstate_class"), Some("53"));
        // Lower case is the same code.
        assert_eq!(classify_sqlstate("40p01").tag, Some("40P01"));
        for odd in ["", "4", "ZZ000", "400010", "é0001", "40"] {
            let c = classify_sqlstate(odd);
            assert_eq!((c.class, c.tag), (Unknown, Some("sqlstate")), "{odd:?}");
        }
    }
}
