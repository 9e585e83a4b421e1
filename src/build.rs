//! Build script: records the commit the binary is built from, for
//! `kintsugi --version` and the start-up log line, as the compile-time
//! variable `KINTSUGI_BUILD_INFO`, e.g. `952b6b7ab1c2 2026-11-30`.
//!
//! `KINTSUGI_BUILD_COMMIT` in the build's environment wins (for packagers
//! building from a tarball); outside a git checkout it is `unknown commit`.
//! `-dirty` is added when tracked files had changes when this script last
//! ran (it runs again when HEAD or the branch it names moves).
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=KINTSUGI_BUILD_COMMIT");
    println!("cargo:rerun-if-changed=src/build.rs");
    // The migrations are embedded (diesel_migrations), so a new folder in
    // migrations/ must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
    if let Some(commit) = std::env::var("KINTSUGI_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
    {
        println!("cargo:rustc-env=KINTSUGI_BUILD_INFO={}", commit.trim());
        return;
    }
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let info = git(&dir, &["log", "-1", "--abbrev=12", "--format=%h %cs"]).map(|info| {
        // Tracked files changed (untracked ones are not looked at: cheap).
        let dirty = git(&dir, &["status", "--porcelain", "--untracked-files=no"]).is_some();
        if dirty {
            format!("{info}-dirty")
        } else {
            info
        }
    });
    // Run again when HEAD moves: HEAD itself (a checkout), the branch it
    // names (a commit) and packed-refs (a gc). In a worktree the branch
    // lives in the common git folder.
    if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        let common = git(&dir, &["rev-parse", "--git-common-dir"])
            .map(|c| {
                let c = PathBuf::from(c);
                if c.is_absolute() {
                    c
                } else {
                    dir.join(c)
                }
            })
            .unwrap_or_else(|| git_dir.clone());
        if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
            let reference = common.join(&branch);
            if reference.exists() {
                println!("cargo:rerun-if-changed={}", reference.display());
            }
        }
        let packed = common.join("packed-refs");
        if packed.exists() {
            println!("cargo:rerun-if-changed={}", packed.display());
        }
    }
    println!(
        "cargo:rustc-env=KINTSUGI_BUILD_INFO={}",
        info.unwrap_or_else(|| "unknown commit".to_string())
    );
}
