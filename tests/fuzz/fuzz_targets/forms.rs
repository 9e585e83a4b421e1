#![no_main]
//! Fuzz target `forms`: see `checks::forms` for what it checks.
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::forms(data));
