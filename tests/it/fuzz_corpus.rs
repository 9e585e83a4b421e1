//! The fuzz corpora, replayed on stable: every file of
//! `tests/fuzz/corpus/<target>/` and `tests/fuzz/regressions/<target>/`
//! goes through the very checks the fuzz target runs
//! (`tests/fuzz/checks.rs`), so a crash found once stays fixed without
//! nightly or libFuzzer.
#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn fuzz_corpus_replays_through_every_target_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    for (target, check) in checks::TARGETS {
        let corpus = files(&root.join("corpus").join(target));
        assert!(
            !corpus.is_empty(),
            "no corpus for the fuzz target {target} in {}",
            root.display()
        );
        let regressions = files(&root.join("regressions").join(target));
        for file in corpus.iter().chain(&regressions) {
            let data = std::fs::read(file).expect("a corpus file");
            if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!(
                    "{target}: {} fails: {why}\ninput: {:?}",
                    file.display(),
                    String::from_utf8_lossy(&data)
                );
            }
        }
    }
}
