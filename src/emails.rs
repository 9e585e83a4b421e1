//! The emails the site sends, as askama templates (`templates/emails/`):
//! composed and queued by `crate::notify`, sent by `crate::mail`.
use askama::Template;

#[derive(Template)]
#[template(path = "emails/confirm.txt")]
pub struct ConfirmEmail<'a> {
    /// The words of the site's language (`emails.*`).
    pub t: &'a crate::i18n::Strings,
    pub name: &'a str,
    pub article_title: &'a str,
    pub confirm_url: String,
    pub site_title: &'a str,
    /// The reader's "My questions" page (`/me`).
    pub me_url: String,
}

#[derive(Template)]
#[template(path = "emails/reply.txt")]
pub struct ReplyEmail<'a> {
    /// The words of the site's language (`emails.*`).
    pub t: &'a crate::i18n::Strings,
    pub name: &'a str,
    pub replier: &'a str,
    pub is_coach: bool,
    pub article_title: &'a str,
    pub reply_text: &'a str,
    pub comment_url: String,
    pub unsubscribe_url: String,
    pub site_title: &'a str,
    /// The reader's "My questions" page (`/me`).
    pub me_url: String,
}

#[derive(Template)]
#[template(path = "emails/approved.txt")]
pub struct ApprovedEmail<'a> {
    /// The words of the site's language (`emails.*`).
    pub t: &'a crate::i18n::Strings,
    pub name: &'a str,
    pub article_title: &'a str,
    pub comment_url: String,
    pub site_title: &'a str,
    /// The reader's "My questions" page (`/me`).
    pub me_url: String,
}

#[derive(Template)]
#[template(path = "emails/coach.txt")]
pub struct CoachAlertEmail<'a> {
    /// The words of the site's language (`emails.*`).
    pub t: &'a crate::i18n::Strings,
    pub urgent: bool,
    pub private: bool,
    pub article_title: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    /// Why it waits, in the site's language.
    pub reasons: String,
    pub body: &'a str,
    pub comment_url: String,
}

#[derive(Template)]
#[template(path = "emails/request_received.txt")]
pub struct RequestReceivedEmail<'a> {
    pub t: &'a crate::i18n::Strings,
    pub name: &'a str,
    pub option_title: &'a str,
    pub status_url: String,
    pub site_title: &'a str,
    /// The reader's "My questions" page (`/me`).
    pub me_url: String,
    /// Sent again because the reader asked for the link once more.
    pub again: bool,
}

#[derive(Template)]
#[template(path = "emails/request_alert.txt")]
pub struct RequestAlertEmail<'a> {
    pub t: &'a crate::i18n::Strings,
    pub urgent: bool,
    /// What happened, in the site's language.
    pub what: &'a str,
    pub option_title: &'a str,
    pub admin_url: String,
}

#[derive(Template)]
#[template(path = "emails/request_update.txt")]
pub struct RequestUpdateEmail<'a> {
    pub t: &'a crate::i18n::Strings,
    pub name: &'a str,
    pub option_title: &'a str,
    /// The coach's messages since the last email, oldest first.
    pub messages: &'a [String],
    /// The new status's name and what it means, in the site's language.
    pub status_label: Option<&'a str>,
    pub status_explanation: &'a str,
    pub status_url: String,
    pub site_title: &'a str,
    /// The reader's "My questions" page (`/me`).
    pub me_url: String,
}

#[derive(Template)]
#[template(path = "emails/me_link.txt")]
pub struct MeLinkEmail<'a> {
    pub t: &'a crate::i18n::Strings,
    /// The link that opens the reader's "My questions" page.
    pub open_url: String,
    pub site_title: &'a str,
}
