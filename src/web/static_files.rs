//! `/static/...`: fingerprinted files, cached for a year, in the best
//! encoding the browser takes (compressed once at start).
use actix_web::{web, HttpRequest, HttpResponse};

use super::AppState;
use crate::error::AppError;

pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let asset = state.assets.get(req.path()).ok_or(AppError::NotFound)?;
    Ok(asset.respond(&req))
}

/// `/favicon.ico` and `/apple-touch-icon.png`, where browsers look for them.
pub async fn at_root(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let asset = state.assets.at_root(req.path()).ok_or(AppError::NotFound)?;
    Ok(asset.respond(&req))
}

/// `/manifest.webmanifest`: the site's name, colours and icons, for a
/// phone's home screen.
pub async fn manifest(state: web::Data<AppState>) -> HttpResponse {
    let site = &state.settings.site;
    let icon = |name: &str, size: &str, purpose: &str| {
        serde_json::json!({
            "src": state.assets.url(name),
            "sizes": size,
            "type": "image/png",
            "purpose": purpose,
        })
    };
    let manifest = serde_json::json!({
        "name": site.title,
        "short_name": site.title,
        "description": site.tagline,
        "lang": site.language,
        "start_url": "/",
        "scope": "/",
        "display": "minimal-ui",
        "background_color": "#faf7f2",
        "theme_color": "#1f3a3d",
        "icons": [
            icon("icons/icon-192.png", "192x192", "any"),
            icon("icons/icon-512.png", "512x512", "any"),
            icon("icons/icon-maskable-512.png", "512x512", "maskable"),
        ],
    });
    HttpResponse::Ok()
        .insert_header(("Content-Type", "application/manifest+json"))
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(manifest.to_string())
}

/// `/images/{file}`: the coach's pictures from `content/images/` (a photo
/// on the about page, an article's picture). Plain file names only.
pub async fn content_image(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let content_type = crate::content::library::image_type(&file).ok_or(AppError::NotFound)?;
    let path = state
        .settings
        .content_dir
        .join("images")
        .join(file.as_str());
    let read = web::block(
        move || -> std::io::Result<(Vec<u8>, std::time::SystemTime)> {
            let modified = std::fs::metadata(&path)?.modified()?;
            Ok((std::fs::read(&path)?, modified))
        },
    )
    .await
    .map_err(AppError::internal)?;
    let (bytes, modified) = match read {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::internal(e)),
    };
    let modified: chrono::DateTime<chrono::Utc> = modified.into();
    let last_modified = modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let unchanged = req
        .headers()
        .get(actix_web::http::header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| since.timestamp() >= modified.timestamp());
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header(("Content-Type", content_type))
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .insert_header(("Last-Modified", last_modified));
    Ok(if unchanged {
        res.finish()
    } else {
        res.body(bytes)
    })
}

/// `/media/{path}`: the media library's pictures (`content/media/`). The
/// hashed address (`/media/2024/05/photo.3f9a1c2b4d.jpg`) and the smaller
/// copies are cached for a year; the plain address
/// (`/media/2024/05/photo.jpg`, where old links point) redirects to the
/// hashed one. The type is the one the bytes were found to be, never the
/// name's; any other path (a file not scanned, a hidden file, `..`) is 404.
pub async fn media(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    use crate::content::media::MediaRoute;
    let library = state.content.library();
    let route = library
        .media()
        .route(path.as_str())
        .cloned()
        .ok_or(AppError::NotFound)?;
    let (file, kind, original) = match route {
        MediaRoute::Plain(picture) => {
            return Ok(HttpResponse::Found()
                .insert_header(("Location", picture.url()))
                .insert_header(("Cache-Control", "public, max-age=300"))
                .finish());
        }
        MediaRoute::Original(picture) => {
            (picture.source().to_path_buf(), picture.kind, Some(picture))
        }
        MediaRoute::Variant { file, kind } => (file, kind, None),
    };
    let read = web::block(move || -> std::io::Result<Option<Vec<u8>>> {
        // A file changed since the scan is not served under the old hash.
        if original.is_some_and(|p| !p.unchanged_on_disk()) {
            return Ok(None);
        }
        std::fs::read(&file).map(Some)
    })
    .await
    .map_err(AppError::internal)?;
    let bytes = match read {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(AppError::NotFound),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::internal(e)),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", kind.mime()))
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}
