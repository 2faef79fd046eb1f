//! Conformance and interop tests (see README, section "Tests").
