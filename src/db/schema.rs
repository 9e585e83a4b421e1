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
        previous_status -> Nullable<Text>,
        edited_by_coach -> Bool,
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

diesel::table! {
    admins (id) {
        id -> BigInt,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        last_sign_in_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    admin_sessions (key_hash) {
        key_hash -> Text,
        admin_id -> Nullable<BigInt>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    admin_setup_tokens (token_hash) {
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    admin_audit (id) {
        id -> BigInt,
        admin_id -> Nullable<BigInt>,
        admin_name -> Text,
        action -> Text,
        comment_id -> Nullable<BigInt>,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    coaching_requests (id) {
        id -> BigInt,
        token_hash -> Text,
        token_nonce -> Text,
        form_token_hash -> Text,
        name -> Text,
        email -> Text,
        option_slug -> Text,
        option_title -> Text,
        ended_by -> Text,
        together_for -> Text,
        ended_ago -> Text,
        contact_now -> Text,
        no_contact_since -> Nullable<Text>,
        hope -> Text,
        situation -> Text,
        talk_via -> Text,
        time_zone -> Nullable<Text>,
        source_article -> Nullable<Text>,
        source_comment_id -> Nullable<BigInt>,
        consent_at -> Timestamp,
        privacy_version -> Text,
        is_urgent -> Bool,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        anonymized_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    request_messages (id) {
        id -> BigInt,
        request_id -> BigInt,
        kind -> Text,
        author_name -> Text,
        body_markdown -> Text,
        body_html -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(request_messages -> coaching_requests (request_id));

diesel::table! {
    /// Kept by triggers (migration `comment_counts`), never written here.
    comment_counts (article_slug) {
        article_slug -> Text,
        public_comments -> BigInt,
        public_threads -> BigInt,
    }
}

diesel::table! {
    /// What `kintsugi import` brought in, by the other system's ids.
    import_map (source, kind, old_id) {
        source -> Text,
        kind -> Text,
        old_id -> BigInt,
        new_id -> Nullable<BigInt>,
        new_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    comments,
    comment_counts,
    admins,
    admin_sessions,
    admin_audit,
    coaching_requests,
    request_messages,
);

diesel::table! {
    /// "My questions": the emailed link (a hash of its token), opened once.
    reader_links (token_hash) {
        token_hash -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// "My questions": the session the link opens (a hash of its key).
    reader_sessions (key_hash) {
        key_hash -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}
