//! What every handler shares: the app state.
use crate::assets::Assets;
use crate::config::Settings;
use crate::content::ContentStore;
use crate::db::Pool;
use crate::views::{Layout, Nav};
use chrono::Datelike;
use std::sync::Arc;

/// Shared by every handler.
pub struct AppState {
    pub settings: Settings,
    pub content: Arc<ContentStore>,
    pub pool: Pool,
    pub assets: Assets,
    pub key: crate::keys::SiteKey,
    /// Wakes the mail worker when mail was queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// The time of everything that decides by time: sessions, links and
    /// form tokens that expire, rate limits, edit windows, what is
    /// published, page freshness, mail retries (tests move it).
    pub clock: crate::clock::Clock,
    /// Public pages as bytes, plain and precompressed.
    pub page_cache: std::sync::Arc<super::page_cache::PageCache>,
    /// Group commit of comment posts (SQLite).
    pub writer: crate::db::writer::Writer,
    /// The words of the site in its language (`[site] language`).
    pub strings: Arc<crate::i18n::Strings>,
    /// What `GET /metrics` reports (this app's own registry).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    /// What the mail code needs to queue mail (`crate::notify`).
    pub fn mail(&self) -> crate::notify::MailContext {
        crate::notify::MailContext {
            pool: self.pool.clone(),
            wake: self.mail_wake.clone(),
            clock: self.clock.clone(),
            update_delay_seconds: self.settings.mail.update_delay_seconds,
            base: self.settings.base_url.clone(),
            site_title: self.settings.site.title.clone(),
            coach_email: self.settings.mail.coach_email.clone(),
            key: self.key.clone(),
            library: self.content.library(),
            t: self.strings.clone(),
        }
    }

    /// The frame of a page at `path` titled `title` (None: the home page).
    pub fn layout(
        &self,
        title: Option<&str>,
        description: &str,
        path: &str,
        nav: Nav,
    ) -> Layout<'_> {
        let site = &self.settings.site;
        Layout {
            site,
            t: &self.strings,
            css_url: self.assets.url("css/site.css"),
            print_css_url: self.assets.url("css/print.css"),
            admin_css_url: self.assets.url("css/admin.css"),
            favicon_url: self.assets.url("favicon.svg"),
            title: match title {
                Some(t) => format!("{t} · {}", site.title),
                None => format!("{} · {}", site.title, site.tagline),
            },
            description: if description.is_empty() {
                site.tagline.clone()
            } else {
                description.to_string()
            },
            canonical: self.settings.base_url.join(path),
            feed_url: self.settings.base_url.join("/feed.xml"),
            og_type: "website",
            image: self
                .settings
                .base_url
                .join(self.assets.url("icons/share.png")),
            image_alt: site.title.clone(),
            nav,
            query: String::new(),
            json_ld: None,
            noindex: false,
            admin: false,
            header_search: true,
            year: self.clock.now().year(),
            no_contact: self.content.library().no_contact().is_some(),
        }
    }
}

/// Articles per list page.
pub const PAGE_SIZE: usize = 10;
