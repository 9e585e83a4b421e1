//! The comment search at scale: 50,000 realistic comments (readers'
//! questions under eight articles, a third answered by the coach, some
//! held, spam or trashed) stored through the import path (so the index is
//! built by the same triggers and generated column as every write), then
//! realistic queries timed one at a time: p50, p99 and the worst of
//! `db::comment_search::search`, all the database work of a results page.
//!
//! `cargo bench --bench comment_search` runs SQLite; with
//! `KINTSUGI_BENCH_POSTGRES_URL=postgres://user@host:port/db` (a server on
//! which it may create a database) PostgreSQL too. `KINTSUGI_BENCH_COMMENTS`
//! sets the number of comments (default 50,000), `KINTSUGI_BENCH_ROUNDS`
//! the rounds over the queries (default 20). Exits non-zero when a p99 is
//! 10 ms or more.
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use kintsugi::config::DatabaseUrl;
use kintsugi::db::{self, comment_search::Terms, imports::ImportedComment};

const SLUGS: &[&str] = &[
    "going-no-contact",
    "living-with-your-ex",
    "mutual-friends-after-a-breakup",
    "stages-of-grief-after-a-breakup",
    "the-first-two-weeks",
    "when-you-want-them-back",
    "when-your-ex-reaches-out",
    "broke-no-contact",
];

const OPENINGS: &[&str] = &[
    "We broke up three weeks ago and",
    "My ex and I were together for six years, and",
    "He ended it over text, and",
    "She left me for a colleague and",
    "It has been 40 days of no contact and",
    "We still live together until the lease ends, and",
    "He is my neighbour, so",
    "We work together in the same team, and",
    "We have two kids together, so",
    "My best friend is still friends with her, and",
    "I broke no contact on his birthday and",
    "She blocked me on Instagram but",
];

const MIDDLES: &[&str] = &[
    "I keep checking whether he has read my messages",
    "I cannot sleep more than four hours a night",
    "every morning I want to text them good morning like before",
    "our mutual friends invite us both to the same parties",
    "I saw her with someone new at the supermarket",
    "he keeps breadcrumbing me with likes on old photos",
    "I still have her things in a box in the hallway",
    "the dog stayed with him and I miss walking it",
    "my therapist says I need closure but he will not talk",
    "I wrote a letter I never sent",
    "he asked to stay friends and I said yes too quickly",
    "I feel anxious every time my phone lights up",
    "she says she needs space but keeps calling at night",
    "we share a car and have to arrange who drives it",
    "his mother still writes to me on Sundays",
];

const ENDINGS: &[&str] = &[
    "What should I do?",
    "Is it normal to feel this way?",
    "How do I stop hoping?",
    "Should I answer?",
    "Does it get easier after day 30?",
    "Am I doing no contact wrong?",
    "How do other readers manage this?",
    "Any advice is welcome.",
];

const ANSWERS: &[&str] = &[
    "Thank you for writing this down; it takes courage.",
    "Living together makes no contact a matter of boundaries, not silence: agree on shared rooms and times.",
    "When you work together, keep every exchange about the work, short and polite, in writing where you can.",
    "With children, contact is about them: a shared calendar and a parenting app keep the rest out.",
    "Mute them everywhere instead of checking; the urge passes in about twenty minutes.",
    "Breaking no contact once does not reset your healing. Start counting again today.",
    "Write the message in your notes app, read it tomorrow, and see if you still want to send it.",
    "Sleep comes back slowly; a fixed time to get up helps more than a fixed time to go to bed.",
];

/// A small deterministic generator, so every run loads the same site.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// A reader's question of two to five sentences.
fn question(rng: &mut Rng) -> String {
    let mut text = String::new();
    for i in 0..(2 + rng.next() % 4) {
        if i > 0 {
            text.push(if rng.next() % 3 == 0 { '\n' } else { ' ' });
        }
        text.push_str(&format!("{} {}.", rng.pick(OPENINGS), rng.pick(MIDDLES)));
    }
    text.push(' ');
    text.push_str(rng.pick(ENDINGS));
    text
}

/// Stores `n` comments, a thread (question, maybe the coach's answer) at a
/// time, 200 comments per transaction.
fn load(pool: &db::Pool, n: usize) {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let start =
        NaiveDateTime::parse_from_str("2024-01-01 08:00:00", "%Y-%m-%d %H:%M:%S").expect("a date");
    let mut conn = pool.get().expect("a connection");
    let mut batch: Vec<ImportedComment> = Vec::new();
    let mut id = 0i64;
    while (id as usize) < n {
        id += 1;
        let slug = rng.pick(SLUGS).to_string();
        let status = match rng.next() % 20 {
            0 => "pending",
            1 => "spam",
            2 => "trash",
            _ => "approved",
        };
        let body = question(&mut rng);
        let created_at = start + chrono::Duration::minutes(id * 7);
        batch.push(ImportedComment {
            old_id: id,
            old_parent: 0,
            article_slug: slug.clone(),
            author_name: format!("Reader {id}"),
            author_email: format!("reader{id}@example.com"),
            body_html: kintsugi::content::comment_markdown::render_comment(&body).into_string(),
            body_markdown: body,
            status,
            previous_status: None,
            is_coach: false,
            created_at,
        });
        if status == "approved" && rng.next() % 3 == 0 && (id as usize) < n {
            let question_id = id;
            id += 1;
            let body = format!("{} {}", rng.pick(ANSWERS), rng.pick(ANSWERS));
            batch.push(ImportedComment {
                old_id: id,
                old_parent: question_id,
                article_slug: slug,
                author_name: "Maya Brennan".into(),
                author_email: "coach@example.com".into(),
                body_html: kintsugi::content::comment_markdown::render_comment(&body).into_string(),
                body_markdown: body,
                status: "approved",
                previous_status: None,
                is_coach: true,
                created_at: created_at + chrono::Duration::minutes(3),
            });
        }
        if batch.len() >= 200 || id as usize >= n {
            db::imports::import_thread(&mut conn, "bench", &batch, start).expect("stored");
            batch.clear();
        }
    }
    db::imports::after_explicit_ids(&mut conn).expect("sequences");
}

/// What readers type: situations, single words, rare and common words,
/// and words nobody wrote.
const QUERIES: &[&str] = &[
    "we live together",
    "he is my neighbour",
    "work together",
    "kids",
    "blocked instagram",
    "birthday",
    "no contact",
    "breadcrumbing",
    "closure",
    "sleep",
    "dog",
    "letter",
    "mutual friends",
    "space",
    "lease",
    "car",
    "his mother",
    "anxious phone",
    "day 30",
    "stay friends",
    "supermarket someone new",
    "text good morning",
    "the",
    "and",
    "I",
    "we",
    "contact",
    "zebra crossing",
    "Kontaktsperre",
    "nachbar",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Runs the queries `rounds` times; prints and returns the p99.
fn measure(name: &str, pool: &db::Pool, rounds: usize) -> Duration {
    let mut conn = pool.get().expect("a connection");
    let terms: Vec<Terms> = QUERIES.iter().map(|q| Terms::parse(q)).collect();
    // Warm the caches once.
    for t in &terms {
        db::comment_search::search(&mut conn, t).expect("a search");
    }
    let mut times: Vec<Duration> = Vec::new();
    let mut worst: (Duration, &str) = (Duration::ZERO, "");
    let mut found = 0usize;
    let mut ids_only: Vec<Duration> = Vec::new();
    for _ in 0..rounds {
        for t in &terms {
            let started = Instant::now();
            db::comment_search::matching_ids(&mut conn, t, db::comment_search::CANDIDATES)
                .expect("a search");
            ids_only.push(started.elapsed());
        }
        for (t, q) in terms.iter().zip(QUERIES) {
            let started = Instant::now();
            let result = db::comment_search::search(&mut conn, t).expect("a search");
            let took = started.elapsed();
            found += result.hits.len();
            if took > worst.0 {
                worst = (took, q);
            }
            times.push(took);
        }
    }
    times.sort();
    ids_only.sort();
    println!(
        "{name}: the index alone (matching ids): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&ids_only, 0.50).as_secs_f64() * 1e3,
        percentile(&ids_only, 0.99).as_secs_f64() * 1e3,
    );
    let p99 = percentile(&times, 0.99);
    println!(
        "{name}: {} searches, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, worst {:.2} ms (\"{}\"), {:.0} hits a search",
        times.len(),
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        worst.0.as_secs_f64() * 1e3,
        worst.1,
        found as f64 / times.len() as f64,
    );
    p99
}

fn run(name: &str, url: &DatabaseUrl, n: usize, rounds: usize) -> Duration {
    let pool = db::pool(url, 2, Duration::from_secs(30)).expect("a pool");
    {
        let mut conn = pool.get().expect("a connection");
        db::migrations::run_pending(&mut conn).expect("migrated");
    }
    let started = Instant::now();
    load(&pool, n);
    println!(
        "{name}: {n} comments stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let DatabaseUrl::Postgres(_) = url {
        // What autovacuum does on its own soon after a bulk load.
        let mut conn = pool.get().expect("a connection");
        if let db::Db::Pg(c) = &mut *conn {
            c.batch_execute("VACUUM ANALYZE comments")
                .expect("analyzed");
        }
    }
    measure(name, &pool, rounds)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let n: usize = std::env::var("KINTSUGI_BENCH_COMMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let rounds: usize = std::env::var("KINTSUGI_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sqlite = DatabaseUrl::Sqlite(dir.path().join("bench.sqlite3"));
    let mut p99s = vec![run("SQLite", &sqlite, n, rounds)];
    if let Ok(server) = std::env::var("KINTSUGI_BENCH_POSTGRES_URL") {
        let name = format!("kintsugi_bench_{}", std::process::id());
        let mut admin = diesel::PgConnection::establish(&server).expect("the PostgreSQL server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("a database");
        let (prefix, _) = server.rsplit_once('/').expect("a URL with a database");
        let url = DatabaseUrl::parse(&format!("{prefix}/{name}")).expect("a URL");
        p99s.push(run("PostgreSQL", &url, n, rounds));
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .expect("dropped");
    }
    if p99s.iter().any(|p| *p >= Duration::from_millis(10)) {
        eprintln!("a p99 is 10 ms or more");
        std::process::exit(1);
    }
}
