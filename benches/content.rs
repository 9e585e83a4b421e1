//! Content at scale: loading (parse, render, index) 1,000 articles and
//! searching them. `cargo bench --bench content`
use std::path::Path;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use kintsugi::content::search::Query;
use kintsugi::content::Library;

const WORDS: &[&str] = &[
    "contact",
    "silence",
    "grief",
    "sleep",
    "friends",
    "boundaries",
    "text",
    "message",
    "heal",
    "morning",
    "walk",
    "anger",
    "hope",
    "plan",
    "week",
    "letter",
    "phone",
    "home",
    "work",
    "kind",
];

/// Writes `n` articles of about 900 words each, with headings and tags.
fn generate(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("articles")).unwrap();
    for i in 0..n {
        let mut body = String::new();
        for section in 0..6 {
            body.push_str(&format!("## Part {section} of story {i}\n\n"));
            for sentence in 0..25 {
                let w = |k: usize| WORDS[(i * 7 + section * 13 + sentence * 3 + k) % WORDS.len()];
                body.push_str(&format!(
                    "The {} and the {} after a {} come slowly. ",
                    w(0),
                    w(1),
                    w(2)
                ));
            }
            body.push_str("\n\n");
        }
        let text = format!(
            "+++\ntitle = \"Article {i} about {}\"\ndate = 2025-01-01\ntags = [\"{}\", \"{}\"]\n+++\n\n{body}",
            WORDS[i % WORDS.len()],
            WORDS[i % 5],
            WORDS[i % 7 + 5]
        );
        std::fs::write(dir.join("articles").join(format!("a-{i:04}.md")), text).unwrap();
    }
}

fn content(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 1000);
    let mut group = c.benchmark_group("1000 articles");
    group.sample_size(10);
    group.bench_function("load, render and index", |b| {
        b.iter(|| Library::load(dir.path()).unwrap())
    });
    group.finish();

    let library = Library::load(dir.path()).unwrap();
    let now = Utc::now();
    c.bench_function("search one word over 1000 articles", |b| {
        let q = Query::parse("contact");
        b.iter(|| library.search(&q, now).len())
    });
    c.bench_function("search two words with a prefix over 1000 articles", |b| {
        let q = Query::parse("grief bound");
        b.iter(|| library.search(&q, now).len())
    });
}

criterion_group!(benches, content);
criterion_main!(benches);
