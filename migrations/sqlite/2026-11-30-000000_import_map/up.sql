-- What `kintsugi import` brought in, by the other system's ids, so an
-- import run again (or a newer export of the same site) adds only what is
-- new. A comment erased later keeps its row here: importing the export
-- again does not bring back what a reader asked to have deleted.
CREATE TABLE import_map (
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    old_id BIGINT NOT NULL,
    new_id BIGINT,
    new_key TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, kind, old_id)
);
