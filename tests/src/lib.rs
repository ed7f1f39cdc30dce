//! End-to-end tests of sage-cp-bench live in `tests/tests/`; this library is empty.
