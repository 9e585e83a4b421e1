#![no_main]
//! Fuzz target `front_matter`: see `checks::front_matter_file` for what it checks.
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::front_matter_file(data));
