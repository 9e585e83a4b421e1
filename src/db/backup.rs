//! The database half of `kintsugi backup` and `kintsugi restore`
//! (archives, rotation and files are in `crate::backup`).
//!
//! - SQLite: `VACUUM INTO` a new file, through an ordinary connection: one
//!   read transaction, so the copy is consistent while the site writes.
//! - PostgreSQL: every table of the schema exported in one `REPEATABLE READ
//!   READ ONLY` transaction (one snapshot) as JSON lines: a line
//!   `{"table":"name"}`, then one `{"row":{...}}` per row, as PostgreSQL's
//!   own `row_to_json` writes it (typed: numbers, booleans, text, ISO
//!   timestamps). Restore runs the migrations up to the backup's, inserts
//!   the rows with `json_populate_recordset` in foreign-key order (user
//!   triggers off, so kept counts come back as they were), resets the
//!   sequences, then runs any newer migrations.
use std::io::{BufRead, Write};
use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::{Pg, PgConnection};
use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use diesel_migrations::MigrationHarness;

use super::{ConnectionManager, Db};
use crate::config::DatabaseUrl;

use super::migrations::{POSTGRES, SQLITE};

/// diesel's own bookkeeping: made by the migrations on restore, not copied.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// Rows per INSERT on restore, and per FETCH on export.
const BATCH: usize = 500;

pub type BackupDbError = Box<dyn std::error::Error + Send + Sync>;

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct MaybeText {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

#[derive(QueryableByName)]
struct Edge {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

#[derive(QueryableByName)]
struct SerialColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// One connection, outside any pool (backup and restore are commands).
pub fn connect(url: &DatabaseUrl) -> Result<Db, BackupDbError> {
    use r2d2::ManageConnection;
    Ok(ConnectionManager::new(url.clone()).connect()?)
}

/// `"name"`, quoted for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, quoted for SQL.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The newest migration applied to this database (None before any).
pub fn schema_version(conn: &mut Db) -> Result<Option<String>, BackupDbError> {
    let sql = format!("SELECT MAX(version) AS value FROM {MIGRATIONS_TABLE}");
    let rows: Vec<MaybeText> = match conn {
        Db::Sqlite(c) => diesel::sql_query(sql).load(c)?,
        Db::Pg(c) => diesel::sql_query(sql).load(c)?,
    };
    Ok(rows.into_iter().next().and_then(|r| r.value))
}

/// The migrations this build knows, oldest first, for the backend of `url`.
pub fn known_versions(url: &DatabaseUrl) -> Result<Vec<String>, BackupDbError> {
    let mut versions: Vec<String> = match url {
        DatabaseUrl::Sqlite(_) => MigrationSource::<Sqlite>::migrations(&SQLITE)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
        DatabaseUrl::Postgres(_) => MigrationSource::<Pg>::migrations(&POSTGRES)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    };
    versions.sort();
    Ok(versions)
}

/// SQLite: a consistent copy of the live database in the new file `target`.
pub fn sqlite_copy_into(conn: &mut Db, target: &Path) -> Result<(), BackupDbError> {
    let Db::Sqlite(c) = conn else {
        return Err("not an SQLite database".into());
    };
    let target = target
        .to_str()
        .ok_or("the backup folder's path is not valid UTF-8")?;
    c.batch_execute(&format!("VACUUM INTO {}", literal(target)))?;
    Ok(())
}

/// `PRAGMA integrity_check` of an SQLite file: empty when clean, else the
/// problems it lists.
pub fn sqlite_integrity_problems(path: &Path) -> Result<Vec<String>, BackupDbError> {
    let mut c = SqliteConnection::establish(&path.to_string_lossy())?;
    let rows: Vec<TextRow> =
        diesel::sql_query("SELECT integrity_check AS value FROM pragma_integrity_check")
            .load(&mut c)?;
    Ok(rows
        .into_iter()
        .map(|r| r.value)
        .filter(|v| v != "ok")
        .collect())
}

/// Applies pending migrations to a restored SQLite file (a backup from an
/// older release); returns how many ran.
pub fn migrate(url: &DatabaseUrl) -> Result<usize, BackupDbError> {
    let mut conn = connect(url)?;
    super::migrations::run_pending(&mut conn)
}

/// The base tables of the current schema (diesel's bookkeeping left out).
fn pg_tables(c: &mut PgConnection) -> Result<Vec<String>, BackupDbError> {
    let rows: Vec<TextRow> = diesel::sql_query(
        "SELECT table_name::text AS value FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         ORDER BY table_name",
    )
    .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| r.value)
        .filter(|t| t != MIGRATIONS_TABLE)
        .collect())
}

/// `tables` ordered so that a table comes after those it references.
fn pg_dependency_order(
    c: &mut PgConnection,
    tables: &[String],
) -> Result<Vec<String>, BackupDbError> {
    let edges: Vec<Edge> = diesel::sql_query(
        "SELECT child.relname::text AS child, parent.relname::text AS parent \
         FROM pg_constraint k \
         JOIN pg_class child ON child.oid = k.conrelid \
         JOIN pg_class parent ON parent.oid = k.confrelid \
         JOIN pg_namespace n ON n.oid = k.connamespace \
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .load(c)?;
    let mut ordered: Vec<String> = Vec::new();
    let mut left: Vec<String> = tables.to_vec();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                edges.iter().all(|e| {
                    &e.child != *t
                        || e.parent == **t
                        || ordered.contains(&e.parent)
                        || !left.contains(&e.parent)
                })
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            // A cycle between tables: keep the rest in name order.
            ordered.append(&mut left);
            break;
        }
        left.retain(|t| !ready.contains(t));
        ordered.extend(ready);
    }
    Ok(ordered)
}

/// What an export or a restore handled.
#[derive(Debug, Default, Clone)]
pub struct TableCounts(pub Vec<(String, u64)>);

impl TableCounts {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// PostgreSQL: every table in one snapshot, as JSON lines, into `out`.
/// Returns the schema version seen in the same snapshot and the counts.
pub fn pg_export(
    conn: &mut Db,
    out: &mut dyn Write,
) -> Result<(Option<String>, TableCounts), BackupDbError> {
    let Db::Pg(c) = conn else {
        return Err("not a PostgreSQL database".into());
    };
    c.build_transaction()
        .repeatable_read()
        .read_only()
        .run(|c| -> Result<_, BackupDbError> {
            let version: Vec<MaybeText> = diesel::sql_query(format!(
                "SELECT MAX(version) AS value FROM {MIGRATIONS_TABLE}"
            ))
            .load(c)?;
            let version = version.into_iter().next().and_then(|r| r.value);
            let tables = pg_tables(c)?;
            let tables = pg_dependency_order(c, &tables)?;
            let mut counts = TableCounts::default();
            for table in tables {
                writeln!(out, "{}", serde_json::json!({ "table": table }))?;
                // Primary-key order keeps a self-referencing table (comments)
                // restorable batch by batch: parents come first.
                let key = pg_primary_key(c, &table)?;
                let order = if key.is_empty() {
                    "t".to_string()
                } else {
                    key.iter()
                        .map(|k| format!("t.{}", ident(k)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                // Stored columns only: a generated one (the comments'
                // `search_words`) is computed again on restore.
                let columns = pg_stored_columns(c, &table)?.join(", ");
                c.batch_execute(&format!(
                    "DECLARE kintsugi_export NO SCROLL CURSOR FOR \
                     SELECT row_to_json(t)::text AS value FROM \
                     (SELECT {columns} FROM {} AS t ORDER BY {order}) AS t",
                    ident(&table)
                ))?;
                let mut n = 0u64;
                loop {
                    let rows: Vec<TextRow> =
                        diesel::sql_query(format!("FETCH {BATCH} FROM kintsugi_export")).load(c)?;
                    for row in &rows {
                        writeln!(out, "{{\"row\":{}}}", row.value)?;
                    }
                    n += rows.len() as u64;
                    if rows.len() < BATCH {
                        break;
                    }
                }
                c.batch_execute("CLOSE kintsugi_export")?;
                counts.0.push((table, n));
            }
            Ok((version, counts))
        })
}

/// The columns of `table` that hold data (generated ones left out), in
/// table order, quoted.
fn pg_stored_columns(c: &mut PgConnection, table: &str) -> Result<Vec<String>, BackupDbError> {
    let rows: Vec<TextRow> = diesel::sql_query(format!(
        "SELECT column_name::text AS value FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = {} \
         AND is_generated = 'NEVER' ORDER BY ordinal_position",
        literal(table)
    ))
    .load(c)?;
    Ok(rows.into_iter().map(|r| ident(&r.value)).collect())
}

/// The primary key's columns of `table`, in key order.
fn pg_primary_key(c: &mut PgConnection, table: &str) -> Result<Vec<String>, BackupDbError> {
    let rows: Vec<TextRow> = diesel::sql_query(format!(
        "SELECT a.attname::text AS value FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = {}::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
        literal(&ident(table))
    ))
    .load(c)?;
    Ok(rows.into_iter().map(|r| r.value).collect())
}

/// True when the PostgreSQL database holds tables (ours or anyone's) in
/// its current schema.
pub fn pg_has_tables(conn: &mut Db) -> Result<bool, BackupDbError> {
    let Db::Pg(c) = conn else {
        return Err("not a PostgreSQL database".into());
    };
    Ok(!pg_tables(c)?.is_empty())
}

/// PostgreSQL restore from JSON lines made by [`pg_export`] at migration
/// `version`. With `force`, Kintsugi's tables already there are dropped
/// first (every migration reverted).
pub fn pg_restore(
    conn: &mut Db,
    lines: &mut dyn BufRead,
    version: &str,
    force: bool,
) -> Result<TableCounts, BackupDbError> {
    let Db::Pg(c) = conn else {
        return Err("not a PostgreSQL database".into());
    };
    let mut migrations = MigrationSource::<Pg>::migrations(&POSTGRES)?;
    migrations.sort_by_key(|m| m.name().version().to_string());
    if !migrations
        .iter()
        .any(|m| m.name().version().to_string() == version)
    {
        return Err(format!(
            "the backup's database is at migration {version}, which this Kintsugi does not know (a newer release made it); restore it with that release or a newer one"
        )
        .into());
    }
    if !pg_tables(c)?.is_empty() {
        if !force {
            return Err("the database already holds tables; restore into an empty database, or add --force to replace Kintsugi's tables".into());
        }
        c.revert_all_migrations(POSTGRES)?;
    }
    // The schema as the backup knew it...
    let applied: Vec<String> = c
        .applied_migrations()?
        .iter()
        .map(|v| v.to_string())
        .collect();
    for m in &migrations {
        let v = m.name().version().to_string();
        if v.as_str() <= version && !applied.contains(&v) {
            c.run_migration(m.as_ref())?;
        }
    }
    // ...its rows, in one transaction...
    let counts = c.transaction(|c| -> Result<TableCounts, BackupDbError> {
        // Migrations may have written rows (site_meta): the backup's win.
        let tables = pg_tables(c)?;
        if !tables.is_empty() {
            let all: Vec<String> = tables.iter().map(|t| ident(t)).collect();
            c.batch_execute(&format!("TRUNCATE {}", all.join(", ")))?;
        }
        let mut counts = TableCounts::default();
        let mut table: Option<String> = None;
        let mut batch: Vec<serde_json::Value> = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            let eof = lines.read_line(&mut line)? == 0;
            let value: Option<serde_json::Value> = if eof || line.trim().is_empty() {
                None
            } else {
                Some(serde_json::from_str(&line)?)
            };
            let next_table = value
                .as_ref()
                .and_then(|v| v.get("table"))
                .and_then(|t| t.as_str())
                .map(str::to_string);
            if let Some(v) = value.as_ref().and_then(|v| v.get("row")) {
                batch.push(v.clone());
            }
            if batch.len() >= BATCH || eof || next_table.is_some() {
                if let Some(t) = &table {
                    if !batch.is_empty() {
                        let n = batch.len() as u64;
                        insert_rows(c, t, std::mem::take(&mut batch))?;
                        if let Some(last) = counts.0.last_mut() {
                            last.1 += n;
                        }
                    }
                } else if !batch.is_empty() {
                    return Err("the database export has rows before any table".into());
                }
            }
            if let Some(t) = next_table {
                if !tables.contains(&t) {
                    return Err(format!("the backup has a table `{t}` this schema lacks").into());
                }
                if let Some(done) = &table {
                    c.batch_execute(&format!("ALTER TABLE {} ENABLE TRIGGER USER", ident(done)))?;
                }
                c.batch_execute(&format!("ALTER TABLE {} DISABLE TRIGGER USER", ident(&t)))?;
                counts.0.push((t.clone(), 0));
                table = Some(t);
            }
            if eof {
                break;
            }
        }
        if let Some(done) = &table {
            c.batch_execute(&format!("ALTER TABLE {} ENABLE TRIGGER USER", ident(done)))?;
        }
        let serials: Vec<SerialColumn> = diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'",
        )
        .load(c)?;
        for s in serials {
            c.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence({}, {}), \
                 COALESCE((SELECT MAX({}) FROM {}), 0) + 1, false)",
                literal(&ident(&s.table_name)),
                literal(&s.column_name),
                ident(&s.column_name),
                ident(&s.table_name)
            ))?;
        }
        Ok(counts)
    })?;
    // ...then whatever this release added since.
    super::migrations::run_pending(conn)?;
    Ok(counts)
}

fn insert_rows(
    c: &mut PgConnection,
    table: &str,
    rows: Vec<serde_json::Value>,
) -> Result<(), BackupDbError> {
    let json = serde_json::Value::Array(rows).to_string();
    // Generated columns (the comments' `search_words`) compute themselves.
    let columns = pg_stored_columns(c, table)?.join(", ");
    diesel::sql_query(format!(
        "INSERT INTO {t} ({columns}) SELECT {columns} \
         FROM json_populate_recordset(NULL::{t}, $1::json)",
        t = ident(table)
    ))
    .bind::<Text, _>(json)
    .execute(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_text_are_quoted_for_sql() {
        assert_eq!(ident("comments"), "\"comments\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("/tmp/it's"), "'/tmp/it''s'");
    }
}
