//! The core's integration tests, as one test binary: every binary links the whole crate
//! graph with thin LTO, so one instead of four takes minutes off each CI run.

mod decoder_fuzz;
mod faults;
mod ref_rules;
mod workflows;
