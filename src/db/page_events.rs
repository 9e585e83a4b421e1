//! Telling the other app instances on one PostgreSQL database that the
//! comments of an article changed, so they drop their cached pages of it
//! at once instead of up to a second later (LISTEN/NOTIFY on the channel
//! [`CHANNEL`], payload the article's slug or [`ALL`]).
//!
//! One thread per instance holds one dedicated connection (not from the
//! pool): it sends what this instance announces (`pg_notify`) and, between
//! sends, polls the connection for what the others announced (every
//! [`POLL`]), skipping its own. A lost connection is made again (after
//! which every comment page is dropped, since announcements may have been
//! missed meanwhile). On SQLite there is one instance and nothing to do.
//! The pages' one-second expiry stays as the fallback.
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::{Integer, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::config::{DatabaseUrl, Secret};

/// The notification channel.
pub const CHANNEL: &str = "kintsugi_pages";
/// The payload meaning "comments changed anywhere".
pub const ALL: &str = "*";
/// The listener's connection as `pg_stat_activity` shows it.
pub const APPLICATION_NAME: &str = "kintsugi page events";
/// How often the connection is read for notifications.
const POLL: Duration = Duration::from_millis(50);
/// How often the connection is tested with a query (a dead peer that sent
/// nothing is noticed only by writing to it).
const CHECK: Duration = Duration::from_secs(10);
/// The wait before connecting again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Where this instance's announcements go (nowhere on SQLite).
#[derive(Clone, Debug, Default)]
pub struct Announcer(Option<Sender<String>>);

impl Announcer {
    /// Announces that comments of `slug` (or [`ALL`]) changed. Never
    /// blocks: the listener thread sends it.
    pub fn announce(&self, slug: &str) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(slug.to_string());
        }
    }
}

/// What the other instances announced is handed to `on_change` (a slug or
/// [`ALL`]); `alive` says whether anyone still wants it (when it says no,
/// the thread ends and closes its connection).
pub fn spawn(
    url: &DatabaseUrl,
    instance: String,
    on_change: impl Fn(&str) + Send + 'static,
    alive: impl Fn() -> bool + Send + 'static,
) -> Announcer {
    let DatabaseUrl::Postgres(url) = url else {
        return Announcer(None);
    };
    let (tx, rx) = channel::<String>();
    let url = url.clone();
    let spawned = std::thread::Builder::new()
        .name("page-events".into())
        .spawn(move || listen(url, instance, rx, on_change, alive));
    match spawned {
        Ok(_) => Announcer(Some(tx)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the page-change listener; other instances' changes show within a second");
            Announcer(None)
        }
    }
}

#[derive(QueryableByName)]
struct BackendPid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

/// Why the loop over one connection ended.
enum Ended {
    /// Nobody listens any more: stop.
    Done,
    /// The connection failed: connect again.
    Lost(String),
}

fn listen(
    url: Secret,
    instance: String,
    rx: Receiver<String>,
    on_change: impl Fn(&str),
    alive: impl Fn() -> bool,
) {
    let mut first = true;
    loop {
        match connect(&url) {
            Ok((mut conn, pid)) => {
                if first {
                    tracing::info!(instance = %instance, "listening for other instances' page changes");
                } else {
                    tracing::info!(instance = %instance, "page-change listener connected again");
                    // Announcements may have been missed meanwhile.
                    on_change(ALL);
                }
                first = false;
                match serve(&mut conn, pid, &rx, &on_change, &alive) {
                    Ended::Done => return,
                    Ended::Lost(why) => {
                        tracing::warn!(error = %why, instance = %instance, "page-change listener lost its connection; connecting again")
                    }
                }
            }
            Err(why) => {
                if first {
                    tracing::warn!(error = %why, "page-change listener cannot connect; will retry");
                }
            }
        }
        // Wait before trying again, still draining what is announced (it
        // cannot be sent now) and noticing when nobody listens any more.
        let until = Instant::now() + RETRY;
        while Instant::now() < until {
            match rx.recv_timeout(POLL) {
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if !alive() {
            return;
        }
    }
}

fn connect(url: &Secret) -> Result<(PgConnection, i32), String> {
    let mut conn = PgConnection::establish(url.expose()).map_err(|e| e.to_string())?;
    conn.batch_execute(&format!(
        "SET application_name = '{APPLICATION_NAME}'; LISTEN {CHANNEL}"
    ))
    .map_err(|e| e.to_string())?;
    let pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<BackendPid>(&mut conn)
        .map_err(|e| e.to_string())?
        .pid;
    Ok((conn, pid))
}

fn serve(
    conn: &mut PgConnection,
    own_pid: i32,
    rx: &Receiver<String>,
    on_change: &impl Fn(&str),
    alive: &impl Fn() -> bool,
) -> Ended {
    let mut checked = Instant::now();
    loop {
        match rx.recv_timeout(POLL) {
            Ok(slug) => {
                if let Err(e) = diesel::sql_query("SELECT pg_notify($1, $2)")
                    .bind::<Text, _>(CHANNEL)
                    .bind::<Text, _>(&slug)
                    .execute(conn)
                {
                    return Ended::Lost(e.to_string());
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ended::Done,
        }
        for received in conn.notifications_iter() {
            match received {
                Ok(n) if n.process_id == own_pid => {}
                Ok(n) => on_change(&n.payload),
                Err(e) => return Ended::Lost(e.to_string()),
            }
        }
        if checked.elapsed() >= CHECK {
            if !alive() {
                return Ended::Done;
            }
            if let Err(e) = conn.batch_execute("SELECT 1") {
                return Ended::Lost(e.to_string());
            }
            checked = Instant::now();
        }
    }
}
