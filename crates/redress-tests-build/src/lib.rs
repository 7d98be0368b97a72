//! Compile-fail tests of the `redress` facade built without a runtime
//! feature (the tests live in `tests/`). A package of their own, because
//! trybuild compiles the ui tests with the features of the package under
//! test, and `redress`'s own tests enable `tokio`.
