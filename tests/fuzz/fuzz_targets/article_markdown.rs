#![no_main]
//! Fuzz target `article_markdown`: see `checks::article_markdown` for what it checks.
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::article_markdown(data));
