//! The media library: pictures in `content/media/` (the WordPress importer
//! puts uploads there, keeping their `2024/05/` folders).
//!
//! Every file is checked by its content, never its name: only real JPEG,
//! PNG, WebP and GIF images are served, with the type their bytes say.
//! Anything else is a problem `kintsugi check` reports; the site still
//! starts and simply never serves it.
//!
//! A picture is served at a content-hashed address
//! (`/media/2024/05/photo.3f9a1c2b4d.jpg`, cached for a year); its plain
//! address (`/media/2024/05/photo.jpg`) redirects there. When the library
//! is loaded for serving, smaller copies (480, 960 and 1440 pixels wide,
//! only those narrower than the original) are made once with the `image`
//! crate, in the original format and in WebP, and kept in the data folder
//! (`<data_dir>/media-cache/`) under names made of the content hash, so
//! later starts reuse them and a changed file gets new ones.
use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::error::ContentError;

/// The data folder's sub-folder for the smaller copies.
pub const CACHE_DIR: &str = "media-cache";

/// The widths smaller copies are made at (only those below the original's).
pub const VARIANT_WIDTHS: &[u32] = &[480, 960, 1440];

/// The kinds of picture the media library serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
    Gif,
}

impl ImageKind {
    /// The kind of image `bytes` hold, by their magic bytes (never the
    /// file name); `None` for anything else (HTML, SVG, text, AVIF...).
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageKind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageKind::Gif)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(ImageKind::Webp)
        } else {
            None
        }
    }

    /// The `Content-Type` it is served with.
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
            ImageKind::Gif => "image/gif",
        }
    }

    /// The usual file extension, without the dot (`jpg`, `png`, `webp`,
    /// `gif`).
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
            ImageKind::Gif => "gif",
        }
    }

    /// Its name for people (`JPEG`).
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "JPEG",
            ImageKind::Png => "PNG",
            ImageKind::Webp => "WebP",
            ImageKind::Gif => "GIF",
        }
    }

    fn format(self) -> image::ImageFormat {
        match self {
            ImageKind::Jpeg => image::ImageFormat::Jpeg,
            ImageKind::Png => image::ImageFormat::Png,
            ImageKind::Webp => image::ImageFormat::WebP,
            ImageKind::Gif => image::ImageFormat::Gif,
        }
    }
}

/// What a file that is not a servable image seems to be, for the problem
/// message ("it looks like an HTML page").
pub fn looks_like(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    if bytes.is_empty() {
        "an empty file"
    } else if text.starts_with("<!doctype html") || text.starts_with("<html") {
        "an HTML page"
    } else if text.contains("<svg") {
        "an SVG drawing, which can carry scripts"
    } else if text.starts_with("<?xml") || text.starts_with('<') {
        "an XML or HTML document"
    } else if head.starts_with(b"%PDF") {
        "a PDF document"
    } else if head.starts_with(b"PK\x03\x04") {
        "a ZIP archive or office document"
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        "an AVIF, HEIC or video file; convert it to JPEG or WebP"
    } else if head.starts_with(b"BM") {
        "a BMP image; convert it to PNG"
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        "a TIFF image; convert it to JPEG or PNG"
    } else if std::str::from_utf8(bytes).is_ok() {
        "text"
    } else {
        "an unknown kind of file"
    }
}

/// A JPEG without its metadata segments: APP1 (EXIF and XMP, which can
/// hold where and when a photo was taken, even the GPS position of the
/// coach's home), the other APPn segments and comments (COM), walked
/// segment by segment without re-encoding, so the picture is unchanged.
/// Kept: JFIF (APP0), the colour profile (ICC, APP2) and Adobe's colour
/// transform (APP14, which CMYK pictures need to show the right colours).
/// `None` when `bytes` are not a well-formed JPEG.
pub fn strip_jpeg_metadata(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut i = 2;
    loop {
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        // Fill bytes: any number of 0xFF before a marker.
        while *bytes.get(i + 1)? == 0xFF {
            i += 1;
        }
        let marker = *bytes.get(i + 1)?;
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Some(out);
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                i += 2;
            }
            _ => {
                let len = u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]) as usize;
                if len < 2 {
                    return None;
                }
                let end = i + 2 + len;
                let segment = bytes.get(i..end)?;
                let payload = &segment[4..];
                if marker == 0xDA {
                    // Start of scan: the compressed data (and any later
                    // scans and tables) run to the end of the picture.
                    out.extend_from_slice(&bytes[i..]);
                    return Some(out);
                }
                let keep = match marker {
                    0xE0 => payload.starts_with(b"JFIF\0") || payload.starts_with(b"JFXX\0"),
                    0xE2 => payload.starts_with(b"ICC_PROFILE\0"),
                    0xEE => payload.starts_with(b"Adobe"),
                    0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
                    _ => true,
                };
                if keep {
                    out.extend_from_slice(segment);
                }
                i = end;
            }
        }
    }
}

/// A smaller copy of a picture, in its own format (and in WebP when the
/// picture's `webp` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub width: u32,
    pub height: u32,
}

/// One picture of the media library.
#[derive(Debug)]
pub struct MediaFile {
    /// Its path under `content/media/`, with `/`: `2024/05/photo.jpg`.
    pub path: String,
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// 10 hex digits of the SHA-256 of its bytes.
    pub hash: String,
    /// Smaller copies, narrowest first (none when not made).
    pub variants: Vec<Variant>,
    /// Every variant also has a WebP copy, smaller than its
    /// original-format one.
    pub webp: bool,
    source: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

impl MediaFile {
    /// The hashed address, cached for a year:
    /// `/media/2024/05/photo.3f9a1c2b4d.jpg`.
    pub fn url(&self) -> String {
        match self.path.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => {
                format!("/media/{stem}.{}.{ext}", self.hash)
            }
            _ => format!("/media/{}.{}", self.path, self.hash),
        }
    }

    /// The plain address (`/media/2024/05/photo.jpg`), which redirects to
    /// [`MediaFile::url`].
    pub fn plain_url(&self) -> String {
        format!("/media/{}", self.path)
    }

    /// The address of one smaller copy:
    /// `/media/2024/05/photo.3f9a1c2b4d-480.webp`.
    pub fn variant_url(&self, width: u32, kind: ImageKind) -> String {
        let stem = match self.path.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => stem,
            _ => self.path.as_str(),
        };
        format!("/media/{stem}.{}-{width}.{}", self.hash, kind.extension())
    }

    /// `srcset` in the original format (the smaller copies and the
    /// original), or `None` without copies.
    pub fn srcset(&self) -> Option<String> {
        if self.variants.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = self
            .variants
            .iter()
            .map(|v| format!("{} {}w", self.variant_url(v.width, self.kind), v.width))
            .collect();
        parts.push(format!("{} {}w", self.url(), self.width));
        Some(parts.join(", "))
    }

    /// `srcset` of the WebP copies, when they are worth offering.
    pub fn webp_srcset(&self) -> Option<String> {
        if self.variants.is_empty() || !self.webp {
            return None;
        }
        let mut parts: Vec<String> = self
            .variants
            .iter()
            .map(|v| {
                format!(
                    "{} {}w",
                    self.variant_url(v.width, ImageKind::Webp),
                    v.width
                )
            })
            .collect();
        parts.push(format!(
            "{} {}w",
            self.variant_url(self.width, ImageKind::Webp),
            self.width
        ));
        Some(parts.join(", "))
    }

    /// The file behind it.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Whether the file on disk is still the one scanned (same size and
    /// modification time): a changed file is not served under the old
    /// hash while the reload is on its way.
    pub fn unchanged_on_disk(&self) -> bool {
        std::fs::metadata(&self.source)
            .map(|m| m.len() == self.len && m.modified().ok() == self.modified)
            .unwrap_or(false)
    }
}

/// What an address under `/media/` leads to.
#[derive(Debug, Clone)]
pub enum MediaRoute {
    /// The hashed address: the file itself.
    Original(Arc<MediaFile>),
    /// The plain address: redirect to the hashed one.
    Plain(Arc<MediaFile>),
    /// A smaller copy in the cache folder.
    Variant { file: PathBuf, kind: ImageKind },
}

/// Every servable picture of `content/media/`, and the problems found.
#[derive(Debug, Default)]
pub struct Media {
    files: BTreeMap<String, Arc<MediaFile>>,
    /// Paths under `/media/` (without the prefix) to what they serve.
    routes: HashMap<String, MediaRoute>,
    /// Files that are there but not served, with why.
    refused: HashMap<String, String>,
    problems: Vec<ContentError>,
}

impl Media {
    /// Scans `content_dir/media/`. With `cache_dir` (when serving), the
    /// smaller copies are made there (or found from an earlier start);
    /// without it (`kintsugi check`) none are made or needed.
    pub fn scan(content_dir: &Path, cache_dir: Option<&Path>) -> Media {
        let mut media = Media::default();
        let root = content_dir.join("media");
        let mut found = Vec::new();
        walk(&root, "", &mut found, &mut media.problems);
        if let Some(cache) = cache_dir {
            if !found.is_empty() {
                if let Err(e) = std::fs::create_dir_all(cache) {
                    tracing::warn!(folder = %cache.display(), error = %e, "cannot create the media cache folder; pictures are served without smaller copies");
                }
            }
        }
        for (rel, path) in found {
            match read_picture(&rel, &path) {
                Ok((mut file, bytes)) => {
                    if let Some(cache) = cache_dir {
                        add_variants(&mut file, &bytes, cache);
                    }
                    media.insert(file, cache_dir);
                }
                Err(reason) => {
                    media.problems.push(ContentError {
                        file: path,
                        line: 1,
                        message: format!("{reason}; it will not be served"),
                    });
                    media.refused.insert(rel, reason);
                }
            }
        }
        media
    }

    fn insert(&mut self, file: MediaFile, cache_dir: Option<&Path>) {
        let file = Arc::new(file);
        let strip = |url: String| url.trim_start_matches("/media/").to_string();
        self.routes
            .insert(strip(file.url()), MediaRoute::Original(file.clone()));
        if let Some(cache) = cache_dir {
            for v in &file.variants {
                let mut kinds = vec![file.kind];
                if file.webp {
                    kinds.push(ImageKind::Webp);
                }
                for kind in kinds {
                    self.routes.insert(
                        strip(file.variant_url(v.width, kind)),
                        MediaRoute::Variant {
                            file: cache.join(variant_name(&file.hash, v.width, kind)),
                            kind,
                        },
                    );
                }
            }
        }
        if let (Some(cache), true) = (cache_dir, file.webp && !file.variants.is_empty()) {
            self.routes.insert(
                strip(file.variant_url(file.width, ImageKind::Webp)),
                MediaRoute::Variant {
                    file: cache.join(variant_name(&file.hash, file.width, ImageKind::Webp)),
                    kind: ImageKind::Webp,
                },
            );
        }
        self.routes
            .entry(file.path.clone())
            .or_insert_with(|| MediaRoute::Plain(file.clone()));
        self.files.insert(file.path.clone(), file);
    }

    /// A picture by its path under `content/media/` (`2024/05/photo.jpg`).
    pub fn get(&self, path: &str) -> Option<&Arc<MediaFile>> {
        self.files.get(path)
    }

    /// What `/media/{path}` serves, if anything.
    pub fn route(&self, path: &str) -> Option<&MediaRoute> {
        self.routes.get(path)
    }

    /// A picture a `@/media/...` reference names, or the problem message
    /// to report at the reference.
    pub fn lookup(&self, path: &str) -> Result<Arc<MediaFile>, String> {
        if let Some(file) = self.files.get(path) {
            return Ok(file.clone());
        }
        Err(match self.refused.get(path) {
            Some(reason) => format!("content/media/{path} cannot be shown: {reason}"),
            None => format!("there is no file content/media/{path}"),
        })
    }

    /// Files in `content/media/` that are not served, with why
    /// (`kintsugi check` reports them).
    pub fn problems(&self) -> &[ContentError] {
        &self.problems
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A file or folder name the media library serves: letters, digits,
/// `-`, `_` and `.`, not hidden.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Collects (relative path, file path) of every file under `dir`, sorted;
/// hidden files and folders are skipped, links and odd names reported.
fn walk(
    dir: &Path,
    prefix: &str,
    found: &mut Vec<(String, PathBuf)>,
    problems: &mut Vec<ContentError>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && prefix.is_empty() => return,
        Err(e) => {
            problems.push(ContentError {
                file: dir.to_path_buf(),
                line: 0,
                message: format!("cannot read the folder: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let problem = |message: &str| ContentError {
            file: path.clone(),
            line: 1,
            message: message.to_string(),
        };
        if !plain_name(&name) {
            problems.push(problem(
                "the name may only use letters a-z, digits, hyphens, underscores and dots (rename it); it will not be served",
            ));
            continue;
        }
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if file_type.is_symlink() {
            problems.push(problem(
                "a symbolic link: copy the picture here instead; it will not be served",
            ));
        } else if file_type.is_dir() {
            walk(&path, &rel, found, problems);
        } else if file_type.is_file() {
            found.push((rel, path));
        }
    }
}

/// Reads and checks one file: a real JPEG, PNG, WebP or GIF whose size
/// its header gives. The error is the reason it is not served.
fn read_picture(rel: &str, path: &Path) -> Result<(MediaFile, Vec<u8>), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let kind = ImageKind::sniff(&bytes).ok_or_else(|| {
        format!(
            "not a JPEG, PNG, WebP or GIF image (it looks like {})",
            looks_like(&bytes)
        )
    })?;
    let (width, height) = image::ImageReader::with_format(Cursor::new(&bytes), kind.format())
        .into_dimensions()
        .map_err(|e| format!("a damaged {} image: {e}", kind.name()))?;
    if width == 0 || height == 0 {
        return Err(format!("a {} image without pixels", kind.name()));
    }
    let file = MediaFile {
        path: rel.to_string(),
        kind,
        width,
        height,
        hash: content_hash(&bytes),
        variants: Vec::new(),
        webp: false,
        source: path.to_path_buf(),
        len: meta.len(),
        modified: meta.modified().ok(),
    };
    Ok((file, bytes))
}

/// 10 hex digits of the SHA-256 of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn variant_name(hash: &str, width: u32, kind: ImageKind) -> String {
    format!("{hash}-{width}.{}", kind.extension())
}

/// The manifest of one picture's copies: a line `width height` per copy,
/// then `webp` when WebP copies exist.
fn manifest_name(hash: &str) -> String {
    format!("{hash}.variants")
}

/// The widths a picture gets copies at, with their heights.
fn planned_variants(width: u32, height: u32) -> Vec<Variant> {
    VARIANT_WIDTHS
        .iter()
        .filter(|&&w| w < width)
        .map(|&w| Variant {
            width: w,
            height: ((u64::from(height) * u64::from(w) + u64::from(width) / 2) / u64::from(width))
                .max(1) as u32,
        })
        .collect()
}

/// Finds the picture's smaller copies in `cache`, or makes them. A
/// failure is logged and the picture is served without copies.
fn add_variants(file: &mut MediaFile, bytes: &[u8], cache: &Path) {
    // An animated GIF would lose its animation; GIFs are served as they are.
    if file.kind == ImageKind::Gif || planned_variants(file.width, file.height).is_empty() {
        return;
    }
    if let Some((variants, webp)) = read_manifest(file, cache) {
        file.variants = variants;
        file.webp = webp;
        return;
    }
    match make_variants(file, bytes, cache) {
        Ok((variants, webp)) => {
            file.variants = variants;
            file.webp = webp;
        }
        Err(e) => {
            tracing::warn!(picture = %file.source.display(), error = %e, "cannot make smaller copies of the picture; it is served as it is");
        }
    }
}

fn read_manifest(file: &MediaFile, cache: &Path) -> Option<(Vec<Variant>, bool)> {
    let text = std::fs::read_to_string(cache.join(manifest_name(&file.hash))).ok()?;
    let mut variants = Vec::new();
    let mut webp = false;
    for line in text.lines() {
        if line == "webp" {
            webp = true;
            continue;
        }
        let (w, h) = line.split_once(' ')?;
        variants.push(Variant {
            width: w.parse().ok()?,
            height: h.parse().ok()?,
        });
    }
    let full_webp_there = !webp
        || cache
            .join(variant_name(&file.hash, file.width, ImageKind::Webp))
            .is_file();
    let all_there = full_webp_there
        && variants.iter().all(|v| {
            cache
                .join(variant_name(&file.hash, v.width, file.kind))
                .is_file()
                && (!webp
                    || cache
                        .join(variant_name(&file.hash, v.width, ImageKind::Webp))
                        .is_file())
        });
    all_there.then_some((variants, webp))
}

/// Writes `bytes` to `path` through a temporary name, so a crash never
/// leaves half a file under the real name.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn encode(img: &image::DynamicImage, kind: ImageKind) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    match kind {
        ImageKind::Jpeg => img.write_with_encoder(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82),
        )?,
        ImageKind::Webp => {
            img.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))?
        }
        _ => img.write_to(Cursor::new(&mut out), kind.format())?,
    }
    Ok(out)
}

fn make_variants(
    file: &MediaFile,
    bytes: &[u8],
    cache: &Path,
) -> Result<(Vec<Variant>, bool), String> {
    let img = image::load_from_memory_with_format(bytes, file.kind.format())
        .map_err(|e| e.to_string())?;
    let mut made = Vec::new();
    for v in planned_variants(file.width, file.height) {
        let small = img.resize_exact(v.width, v.height, image::imageops::FilterType::CatmullRom);
        let own = encode(&small, file.kind).map_err(|e| e.to_string())?;
        // A "smaller" copy that weighs more than the original (a small,
        // well-compressed photo re-encoded) is no help to a phone.
        if own.len() >= bytes.len() {
            continue;
        }
        // The WebP encoder is lossless: often larger than a JPEG.
        let webp = if file.kind == ImageKind::Webp {
            None
        } else {
            encode(&small, ImageKind::Webp).ok()
        };
        made.push((v, own, webp));
    }
    // The WebP source lists a full-size copy too: without one, a browser
    // that takes the WebP source would stretch the largest small copy.
    let full_webp = if made.is_empty() || file.kind == ImageKind::Webp {
        None
    } else {
        encode(&img, ImageKind::Webp).ok()
    };
    let webp = !made.is_empty()
        && full_webp.as_ref().is_some_and(|w| w.len() < bytes.len())
        && made
            .iter()
            .all(|(_, own, webp)| webp.as_ref().is_some_and(|w| w.len() < own.len()));
    if webp {
        if let Some(w) = &full_webp {
            write_whole(
                &cache.join(variant_name(&file.hash, file.width, ImageKind::Webp)),
                w,
            )
            .map_err(|e| e.to_string())?;
        }
    }
    let mut manifest = String::new();
    let mut variants = Vec::new();
    for (v, own, small_webp) in made {
        write_whole(
            &cache.join(variant_name(&file.hash, v.width, file.kind)),
            &own,
        )
        .map_err(|e| e.to_string())?;
        if webp {
            if let Some(w) = small_webp {
                write_whole(
                    &cache.join(variant_name(&file.hash, v.width, ImageKind::Webp)),
                    &w,
                )
                .map_err(|e| e.to_string())?;
            }
        }
        manifest.push_str(&format!("{} {}\n", v.width, v.height));
        variants.push(v);
    }
    if webp {
        manifest.push_str("webp\n");
    }
    write_whole(&cache.join(manifest_name(&file.hash)), manifest.as_bytes())
        .map_err(|e| e.to_string())?;
    tracing::info!(picture = %file.path, copies = variants.len(), webp, "smaller copies of the picture made");
    Ok((variants, webp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/wordpress/uploads/2024/05")
                .join(name),
        )
        .unwrap()
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(
            ImageKind::sniff(&fixture("golden-seams-bowl.jpg")),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(&fixture("first-month-chart.png")),
            Some(ImageKind::Png)
        );
        assert_eq!(ImageKind::sniff(b"GIF89a\x01\x00"), Some(ImageKind::Gif));
        assert_eq!(
            ImageKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
        let evil = fixture("evil.jpg");
        assert_eq!(ImageKind::sniff(&evil), None);
        assert_eq!(looks_like(&evil), "an HTML page");
        assert!(looks_like(b"<svg xmlns='http://www.w3.org/2000/svg'/>").contains("SVG"));
        assert_eq!(looks_like(b"hello"), "text");
        assert_eq!(looks_like(b""), "an empty file");
        assert_eq!(ImageKind::Jpeg.mime(), "image/jpeg");
        assert_eq!(ImageKind::Webp.extension(), "webp");
    }

    #[test]
    fn stripping_a_jpeg_drops_exif_and_keeps_the_picture() {
        let original = fixture("golden-seams-bowl.jpg");
        assert!(
            original.windows(6).any(|w| w == b"Exif\0\0"),
            "the fixture has EXIF"
        );
        let stripped = strip_jpeg_metadata(&original).unwrap();
        assert!(!stripped.windows(6).any(|w| w == b"Exif\0\0"));
        assert!(!stripped.windows(4).any(|w| w == b"GPS\0"));
        assert!(stripped.len() < original.len());
        // Same picture: the compressed data is untouched.
        let a = image::load_from_memory(&original).unwrap().to_rgb8();
        let b = image::load_from_memory(&stripped).unwrap().to_rgb8();
        assert_eq!(a.as_raw(), b.as_raw());
        // Stripping again changes nothing.
        assert_eq!(strip_jpeg_metadata(&stripped).unwrap(), stripped);
    }

    #[test]
    fn stripping_keeps_jfif_and_icc_and_refuses_what_is_not_a_jpeg() {
        let segment = |marker: u8, payload: &[u8]| {
            let mut s = vec![0xFF, marker];
            s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
            s.extend_from_slice(payload);
            s
        };
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(segment(0xE0, b"JFIF\0\x01\x01"));
        jpeg.extend(segment(0xE1, b"Exif\0\0secret GPS"));
        jpeg.extend(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x/>"));
        jpeg.extend(segment(0xE2, b"ICC_PROFILE\0\x01\x01"));
        jpeg.extend(segment(0xED, b"Photoshop 3.0\0"));
        jpeg.extend(segment(0xFE, b"a comment"));
        jpeg.extend(segment(0xDB, b"\0table"));
        jpeg.extend(segment(0xDA, b"\x01scan"));
        jpeg.extend_from_slice(b"\x12\xFF\x00\x34\xFF\xD9");
        let stripped = strip_jpeg_metadata(&jpeg).unwrap();
        let mut expected = vec![0xFF, 0xD8];
        expected.extend(segment(0xE0, b"JFIF\0\x01\x01"));
        expected.extend(segment(0xE2, b"ICC_PROFILE\0\x01\x01"));
        expected.extend(segment(0xDB, b"\0table"));
        expected.extend(segment(0xDA, b"\x01scan"));
        expected.extend_from_slice(b"\x12\xFF\x00\x34\xFF\xD9");
        assert_eq!(stripped, expected);

        assert_eq!(strip_jpeg_metadata(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(strip_jpeg_metadata(&jpeg[..9]), None, "cut short");
        assert_eq!(strip_jpeg_metadata(&[0xFF, 0xD8, 0xFF, 0xE1, 0x00]), None);
    }

    #[test]
    fn scan_accepts_real_images_and_reports_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media/2024/05");
        std::fs::create_dir_all(&media).unwrap();
        std::fs::write(media.join("photo.jpg"), fixture("golden-seams-bowl.jpg")).unwrap();
        std::fs::write(media.join("evil.jpg"), fixture("evil.jpg")).unwrap();
        std::fs::write(media.join(".DS_Store"), b"junk").unwrap();
        std::fs::write(media.join("wide.png"), png(1000, 500)).unwrap();
        let m = Media::scan(dir.path(), None);
        assert_eq!(m.len(), 2);
        let photo = m.get("2024/05/photo.jpg").unwrap();
        assert_eq!(photo.kind, ImageKind::Jpeg);
        assert!(photo.width > 0 && photo.height > 0);
        assert_eq!(
            photo.url(),
            format!("/media/2024/05/photo.{}.jpg", photo.hash)
        );
        assert!(
            photo.variants.is_empty(),
            "no copies without a cache folder"
        );
        assert_eq!(m.problems().len(), 1, "{:?}", m.problems());
        let problem = m.problems()[0].to_string();
        assert!(
            problem.ends_with("evil.jpg:1: not a JPEG, PNG, WebP or GIF image (it looks like an HTML page); it will not be served"),
            "{problem}"
        );
        assert!(m
            .lookup("2024/05/evil.jpg")
            .unwrap_err()
            .contains("cannot be shown"));
        assert_eq!(
            m.lookup("2024/05/nope.jpg").unwrap_err(),
            "there is no file content/media/2024/05/nope.jpg"
        );
        assert!(m.route("2024/05/evil.jpg").is_none());
        assert!(matches!(
            m.route("2024/05/photo.jpg"),
            Some(MediaRoute::Plain(_))
        ));

        // With a cache folder: copies, made once, found again.
        let cache = dir.path().join("cache");
        let m = Media::scan(dir.path(), Some(&cache));
        let wide = m.get("2024/05/wide.png").unwrap();
        assert_eq!(
            wide.variants,
            vec![
                Variant {
                    width: 480,
                    height: 240
                },
                Variant {
                    width: 960,
                    height: 480
                }
            ]
        );
        let small = cache.join(format!("{}-480.png", wide.hash));
        let made = std::fs::read(&small).unwrap();
        assert_eq!(image::load_from_memory(&made).unwrap().width(), 480);
        assert!(matches!(
            m.route(
                wide.variant_url(480, ImageKind::Png)
                    .trim_start_matches("/media/")
            ),
            Some(MediaRoute::Variant {
                kind: ImageKind::Png,
                ..
            })
        ));
        let when = std::fs::metadata(&small).unwrap().modified().unwrap();
        let again = Media::scan(dir.path(), Some(&cache));
        assert_eq!(again.get("2024/05/wide.png").unwrap().variants.len(), 2);
        assert_eq!(
            std::fs::metadata(&small).unwrap().modified().unwrap(),
            when,
            "reused"
        );
    }

    #[test]
    fn a_damaged_picture_is_reported_and_never_panics() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        let whole = png(600, 400);
        // Cut inside the header: not served, reported.
        std::fs::write(media.join("cut.png"), &whole[..20]).unwrap();
        // Header whole, pixels cut: served as it is, without copies.
        std::fs::write(media.join("half.png"), &whole[..whole.len() / 2]).unwrap();
        let m = Media::scan(dir.path(), Some(&dir.path().join("cache")));
        assert_eq!(m.len(), 1);
        assert!(m.get("half.png").unwrap().variants.is_empty());
        assert_eq!(m.problems().len(), 1);
        assert!(
            m.problems()[0].message.contains("a damaged PNG image"),
            "{:?}",
            m.problems()
        );
    }
}
