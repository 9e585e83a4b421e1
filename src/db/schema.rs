// One schema for both backends: only common types (integer ids, TEXT,
// BOOLEAN, UTC timestamps).
diesel::table! {
    site_meta (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        article_slug -> Text,
        parent_id -> Nullable<BigInt>,
        root_id -> Nullable<BigInt>,
        reply_to_id -> Nullable<BigInt>,
        depth -> Integer,
        reply_to_name -> Nullable<Text>,
        author_name -> Text,
        author_email -> Text,
        body_markdown -> Text,
        body_html -> Text,
        status -> Text,
        is_private -> Bool,
        is_urgent -> Bool,
        is_coach -> Bool,
        held_reasons -> Text,
        notify_replies -> Bool,
        owner_token_hash -> Nullable<Text>,
        ip_hash -> Text,
        created_at -> Timestamp,
        edited_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_limit_events (id) {
        id -> BigInt,
        bucket -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        kind -> Text,
        list_unsubscribe -> Nullable<Text>,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    mail_subscriptions (id) {
        id -> BigInt,
        email -> Text,
        confirmed_at -> Nullable<Timestamp>,
        unsubscribed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}
