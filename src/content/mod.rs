//! Content: Markdown articles and pages, loaded at start and reloaded when
//! files change (or on SIGHUP), keeping the last good version when the new
//! one is broken.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

pub mod comment_markdown;
pub mod error;
pub mod front_matter;
pub mod library;
pub mod markdown;
pub mod media;
pub mod no_contact;
pub mod redirects;
pub mod search;

pub use library::{Article, CoachingOption, ContentError, Library, Page, PlanTemplate, Tag};

/// The current library, swapped atomically on reload.
pub struct ContentStore {
    dir: PathBuf,
    words: markdown::ContentWords,
    /// Where the media library's smaller copies go (`<data_dir>/media-cache`).
    media_cache: Option<PathBuf>,
    current: ArcSwap<Library>,
    generation: std::sync::atomic::AtomicU64,
}

impl ContentStore {
    pub fn load(dir: &Path) -> Result<Self, Vec<ContentError>> {
        Self::load_in(dir, markdown::ContentWords::default())
    }

    /// Loads the content with the article markup's words in the site's
    /// language (kept for reloads).
    pub fn load_in(dir: &Path, words: markdown::ContentWords) -> Result<Self, Vec<ContentError>> {
        Self::load_serving(dir, words, None)
    }

    /// As [`ContentStore::load_in`], making the media library's smaller
    /// copies in `media_cache` (at this load and every reload).
    pub fn load_serving(
        dir: &Path,
        words: markdown::ContentWords,
        media_cache: Option<PathBuf>,
    ) -> Result<Self, Vec<ContentError>> {
        let library = Library::load_with(dir, &words, media_cache.as_deref())?;
        log_media_problems(&library);
        Ok(Self {
            dir: dir.to_path_buf(),
            words,
            media_cache,
            current: ArcSwap::from_pointee(library),
            generation: 0.into(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The library as of now; cheap (an `Arc` clone).
    pub fn library(&self) -> Arc<Library> {
        self.current.load_full()
    }

    /// Bumped by each successful reload (for caches keyed on content).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Loads the content again. On problems the last good version stays and
    /// every problem is logged.
    pub fn reload(&self) -> Result<usize, Vec<ContentError>> {
        match Library::load_with(&self.dir, &self.words, self.media_cache.as_deref()) {
            Ok(library) => {
                log_media_problems(&library);
                let count = library.len();
                self.current.store(Arc::new(library));
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                tracing::info!(articles = count, "content reloaded");
                Ok(count)
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!(problem = %e, "content problem");
                }
                tracing::error!(
                    problems = errors.len(),
                    "content not reloaded: still serving the last good version"
                );
                Err(errors)
            }
        }
    }
}

/// Files of `content/media/` that are not served do not stop the site;
/// they are logged (and `kintsugi check` lists them).
fn log_media_problems(library: &Library) {
    for problem in library.media().problems() {
        tracing::warn!(problem = %problem, "media file not served");
    }
}

/// Reloads content on SIGHUP and, when `watch` is on, whenever a file
/// under the content folder changes (changes are gathered for a moment so
/// an editor's save counts once). Runs until the process ends.
pub fn spawn_reloaders(store: Arc<ContentStore>, watch: bool) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();

    #[cfg(unix)]
    {
        let tx = tx.clone();
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hangups) => {
                actix_web::rt::spawn(async move {
                    while hangups.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading content");
                        if tx.send(()).is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP"),
        }
    }

    let watcher = if watch {
        use notify::Watcher;
        let tx = tx.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                if !event.kind.is_access() {
                    let _ = tx.send(());
                }
            }
        };
        match notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(store.dir(), notify::RecursiveMode::Recursive)?;
            Ok(w)
        }) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the content folder; send SIGHUP to reload");
                None
            }
        }
    } else {
        None
    };
    drop(tx);

    actix_web::rt::spawn(async move {
        let _watcher = watcher;
        while rx.recv().await.is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            let store = store.clone();
            let _ = actix_web::web::block(move || store.reload()).await;
        }
    });
}
