#![no_main]
//! Fuzz target `comment_markdown`: see `checks::comment_markdown` for what it checks.
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::comment_markdown(data));
