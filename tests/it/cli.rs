//! `kintsugi check` and `kintsugi serve` on broken content.
use std::process::Command;

use crate::helpers::*;

fn broken_content() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_article(
        dir.path(),
        "good.md",
        "title = \"Good\"\ndate = 2026-01-01",
        "Fine.\n\nSee [x](@/articles/gone.md).",
    );
    write_article(dir.path(), "no-title.md", "date = 2026-01-01", "x");
    write_article(
        dir.path(),
        "dupe.md",
        "title = \"Dupe\"\ndate = 2026-01-02\nslug = \"good\"",
        "x",
    );
    std::fs::write(
        dir.path().join("articles/bad-toml.md"),
        "+++\ntitle = \"Unclosed\ndate = 2026-01-01\n+++\nx\n",
    )
    .unwrap();
    dir
}

fn kintsugi(
    args: &[&str],
    content: &std::path::Path,
    data: &std::path::Path,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .args(args)
        .env("KINTSUGI_CONTENT_DIR", content)
        .env("KINTSUGI_DATA_DIR", data)
        .env("KINTSUGI_BIND", "127.0.0.1:0")
        .env_remove("KINTSUGI_DATABASE_URL")
        .output()
        .unwrap()
}

fn assert_reports_every_problem(stderr: &str, dir: &std::path::Path) {
    let path = |f: &str| dir.join("articles").join(f).display().to_string();
    let expected = [
        format!(
            "{}:8: broken internal link `@/articles/gone.md`",
            path("good.md")
        ),
        format!(
            "{}:1: front matter: missing field `title`",
            path("no-title.md")
        ),
        format!("{}:4: duplicate slug `good`", path("dupe.md")),
        format!("{}:2: front matter:", path("bad-toml.md")),
    ];
    for line in expected {
        assert!(
            stderr.lines().any(|l| l.starts_with(&line)),
            "expected a line starting {line:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_prints_every_problem_as_file_and_line_and_fails() {
    let content = broken_content();
    let data = tempfile::tempdir().unwrap();
    let out = kintsugi(&["check"], content.path(), data.path());
    assert!(!out.status.success());
    assert_reports_every_problem(&String::from_utf8_lossy(&out.stderr), content.path());
}

#[test]
fn serve_refuses_broken_content_with_the_same_messages() {
    let content = broken_content();
    let data = tempfile::tempdir().unwrap();
    let out = kintsugi(&["serve"], content.path(), data.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_reports_every_problem(&stderr, content.path());
    assert!(stderr.contains("not starting"));
}

#[test]
fn check_passes_on_the_sample_content() {
    let data = tempfile::tempdir().unwrap();
    let out = kintsugi(&["check"], &sample_content_dir(), data.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("is valid"));
}

#[test]
fn check_reports_pictures_that_are_missing_or_say_nothing_and_broken_strings() {
    let dir = tempfile::tempdir().unwrap();
    write_article(
        dir.path(),
        "no-alt.md",
        "title = \"No alt\"\ndate = 2026-01-01\nimage = \"cup.png\"",
        "x",
    );
    write_article(
        dir.path(),
        "missing.md",
        "title = \"Missing\"\ndate = 2026-01-01\nimage = \"gone.jpg\"\nimage_alt = \"A cup\"",
        "x",
    );
    write_article(
        dir.path(),
        "sneaky.md",
        "title = \"Sneaky\"\ndate = 2026-01-01\nimage = \"../secret.png\"\nimage_alt = \"x\"",
        "x",
    );
    std::fs::create_dir_all(dir.path().join("images")).unwrap();
    std::fs::write(dir.path().join("images/cup.png"), b"\x89PNG").unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = kintsugi(&["check"], dir.path(), data.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let article = |f: &str| dir.path().join("articles").join(f).display().to_string();
    for (file, says) in [
        ("no-alt.md", "the image `cup.png` needs `image_alt`"),
        (
            "missing.md",
            "the image `gone.jpg` is not in content/images/",
        ),
        ("sneaky.md", "the image `../secret.png` must be a file name"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{}:1: {says}", article(file)))),
            "{file}: {stderr}"
        );
    }

    // The site's strings: a typo in the coach's own file is named.
    let good = tempfile::tempdir().unwrap();
    copy_dir(&sample_content_dir(), good.path());
    std::fs::write(
        good.path().join("strings.toml"),
        "[nav]\narticels = \"Posts\"\n",
    )
    .unwrap();
    let out = kintsugi(&["check"], good.path(), data.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("`nav.articels` is not a known key"),
        "{stderr}"
    );
}

/// The binary with only the given variables (nothing from the caller's
/// environment leaks in), in an empty working folder.
fn kintsugi_with(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("KINTSUGI_CONTENT_DIR", sample_content_dir())
        .env("KINTSUGI_DATA_DIR", dir.path().join("data"))
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn version_names_the_release_and_the_commit() {
    let out = kintsugi_with(&["--version"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let prefix = format!("kintsugi {} (", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&prefix) && text.ends_with(')'), "{text}");
    let inside = &text[prefix.len()..text.len() - 1];
    if inside != "unknown commit" {
        let (hash, date) = inside.split_once(' ').unwrap();
        assert_eq!(hash.len(), 12, "{text}");
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{text}");
        // YYYY-MM-DD, perhaps with -dirty.
        assert!(
            date.len() >= 10 && date[..4].parse::<u32>().is_ok(),
            "{text}"
        );
        // Built from this checkout: the commit is the one checked out
        // (unless a packager set KINTSUGI_BUILD_COMMIT).
        let head = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output();
        if let Ok(head) = head {
            let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
            if head.len() == 12 && option_env!("KINTSUGI_BUILD_COMMIT").is_none() {
                assert_eq!(hash, head, "{text}");
            }
        }
    }
}

#[test]
fn config_prints_every_setting_with_secrets_hidden_and_passes_a_good_setup() {
    let out = kintsugi_with(
        &["config"],
        &[
            ("KINTSUGI_BASE_URL", "https://coach.example"),
            ("KINTSUGI_BIND", "127.0.0.1:8080"),
            ("KINTSUGI_TRUSTED_PROXIES", "127.0.0.1"),
            (
                "KINTSUGI_SECRET_KEY",
                "a-very-secret-key-that-is-long-enough-1234",
            ),
            ("KINTSUGI_SMTP_URL", "smtps://maya:hunter2@smtp.example.com"),
            ("KINTSUGI_MAIL_FROM", "Golden Seams <hello@coach.example>"),
            ("KINTSUGI_COACH_EMAIL", "maya@coach.example"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("hunter2") && !stdout.contains("a-very-secret"),
        "{stdout}"
    );
    for line in [
        "KINTSUGI_BASE_URL",
        "https://coach.example  (env)",
        "smtps://maya:***@smtp.example.com",
        "KINTSUGI_SECRET_KEY",
        "***  (env)",
        "KINTSUGI_PAGE_CACHE_MB",
        "32  (default)",
        "the configuration is valid",
    ] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}");
    }
}

#[test]
fn config_names_each_mistake_and_fails() {
    let out = kintsugi_with(
        &["config"],
        &[
            ("KINTSUGI_BASE_URL", "http://coach.example"),
            ("KINTSUGI_BIND", "0.0.0.0:8080"),
            ("KINTSUGI_TRUSTED_PROXIES", "0.0.0.0/0"),
            (
                "KINTSUGI_SMTP_URL",
                "smtp://maya:hunter2@smtp.example.com:587",
            ),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    for part in [
        "error: KINTSUGI_TRUSTED_PROXIES: `0.0.0.0/0` is far too wide",
        "error: KINTSUGI_BASE_URL: `http://coach.example` is not https: cookies are sent without `Secure`",
        "KINTSUGI_BASE_URL=https://coach.example",
        "error: KINTSUGI_SMTP_URL:",
        "?tls=required",
        "warning: KINTSUGI_BIND: `0.0.0.0:8080` listens on every network interface",
        "error(s) and",
    ] {
        assert!(stderr.contains(part), "{part:?} not in:\n{stderr}");
    }
}

#[test]
fn serve_refuses_trusted_proxies_that_cover_everyone() {
    for wide in ["0.0.0.0/0", "::/0"] {
        let out = kintsugi_with(
            &["serve"],
            &[
                ("KINTSUGI_BIND", "127.0.0.1:0"),
                ("KINTSUGI_TRUSTED_PROXIES", wide),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "error: KINTSUGI_TRUSTED_PROXIES: `{wide}` is far too wide"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("not starting"), "{stderr}");
    }
}
