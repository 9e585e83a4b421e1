//! What the audit log records, and how the coach reads it.
//!
//! An entry's action is stored in English, the record's own words: entries
//! keep them whatever the site's language is now or later. The log shows
//! each known action in the site's language (`admin.audit.action.*`); an
//! action it does not know is shown as stored.
use crate::domain::coaching::RequestStatus;
use crate::i18n::Strings;

/// Written by `notify::approve_comment`.
pub const APPROVED: &str = "approved a comment";
pub const SPAM: &str = "marked a comment as spam";
pub const TRASH: &str = "moved a comment to the trash";
pub const RESTORED: &str = "restored a comment";
pub const DELETED: &str = "deleted a comment forever";
pub const REPLIED: &str = "replied as the coach";
pub const EDITED: &str = "edited a comment";
pub const ACCOUNT_CREATED: &str = "created the coach account with the setup link";

/// Each fixed action and the key that says it.
const ACTIONS: &[(&str, &str)] = &[
    (APPROVED, "admin.audit.action.approved"),
    (SPAM, "admin.audit.action.spam"),
    (TRASH, "admin.audit.action.trash"),
    (RESTORED, "admin.audit.action.restored"),
    (DELETED, "admin.audit.action.deleted"),
    (REPLIED, "admin.audit.action.replied"),
    (EDITED, "admin.audit.action.edited"),
    (ACCOUNT_CREATED, "admin.audit.action.account_created"),
];

const REQUEST: &str = "coaching request ";

/// A request state as the record names it.
fn recorded(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Received => "Received",
        RequestStatus::InReview => "In review",
        RequestStatus::PlanReady => "Plan ready",
        RequestStatus::CallScheduled => "Call scheduled",
        RequestStatus::Closed => "Closed",
        RequestStatus::Withdrawn => "Withdrawn",
    }
}

/// The key of a request state's name in the coach's inbox.
pub fn status_key(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Received => "admin.request_status.received",
        RequestStatus::InReview => "admin.request_status.in_review",
        RequestStatus::PlanReady => "admin.request_status.plan_ready",
        RequestStatus::CallScheduled => "admin.request_status.call_scheduled",
        RequestStatus::Closed => "admin.request_status.closed",
        RequestStatus::Withdrawn => "admin.request_status.withdrawn",
    }
}

pub fn request_status(id: i64, status: RequestStatus) -> String {
    format!("set {REQUEST}{id} to {}", recorded(status))
}

pub fn request_reply(id: i64) -> String {
    format!("replied to {REQUEST}{id}")
}

pub fn request_deleted(id: i64) -> String {
    format!("deleted {REQUEST}{id}")
}

/// A stored action in `t`'s language.
pub fn shown(stored: &str, t: &Strings) -> String {
    if let Some((_, key)) = ACTIONS.iter().find(|(action, _)| *action == stored) {
        return t.s(key).to_string();
    }
    let id = |rest: &str| rest.parse::<i64>().ok();
    if let Some(rest) = stored.strip_prefix(&format!("set {REQUEST}")) {
        let known = rest.split_once(" to ").and_then(|(n, label)| {
            let status = RequestStatus::ALL
                .into_iter()
                .find(|s| recorded(*s) == label)?;
            Some((id(n)?, status))
        });
        if let Some((n, status)) = known {
            return t.f2(
                "admin.audit.action.request_status",
                "id",
                &n,
                "status",
                &t.s(status_key(status)),
            );
        }
    }
    if let Some(n) = stored
        .strip_prefix(&format!("replied to {REQUEST}"))
        .and_then(id)
    {
        return t.f("admin.audit.action.request_reply", "id", &n);
    }
    if let Some(n) = stored
        .strip_prefix(&format!("deleted {REQUEST}"))
        .and_then(id)
    {
        return t.f("admin.audit.action.request_deleted", "id", &n);
    }
    stored.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_actions_read_the_same_in_english_and_translate() {
        let en = Strings::english();
        let dir = tempfile::tempdir().unwrap();
        let de = Strings::load("de", dir.path()).unwrap();
        for (action, _) in ACTIONS {
            assert_eq!(shown(action, &en), *action);
        }
        for status in RequestStatus::ALL {
            let stored = request_status(12, status);
            assert_eq!(shown(&stored, &en), stored);
        }
        for stored in [request_reply(7), request_deleted(7)] {
            assert_eq!(shown(&stored, &en), stored);
        }
        assert_eq!(shown(APPROVED, &de), "hat einen Kommentar freigegeben");
        assert_eq!(
            shown(&request_status(3, RequestStatus::PlanReady), &de),
            "hat Coaching-Anfrage 3 auf „Plan fertig“ gesetzt"
        );
        assert_eq!(
            shown("did something new", &de),
            "did something new",
            "an unknown action is shown as stored"
        );
    }
}
