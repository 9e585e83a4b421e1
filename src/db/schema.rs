// One schema for both backends: only common types (integer ids, TEXT,
// BOOLEAN, UTC timestamps).
diesel::table! {
    site_meta (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}
