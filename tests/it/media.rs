//! The media library: pictures of `content/media/` in articles, served
//! under hashed addresses with smaller copies, checked by their content.
use std::path::Path;
use std::process::Command;

use crate::helpers::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wordpress/uploads/2024/05")
            .join(name),
    )
    .unwrap()
}

/// A 1200×800 PNG: wide enough for copies at 480 and 960 pixels.
fn wide_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x / 5 % 256) as u8, (y / 4 % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn media_content(dir: &Path) {
    let media = dir.join("media/2024/05");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("bowl.jpg"), fixture("golden-seams-bowl.jpg")).unwrap();
    std::fs::write(media.join("walk.jpg"), fixture("evening-walk.jpg")).unwrap();
    std::fs::write(media.join("wide.png"), wide_png()).unwrap();
    std::fs::write(media.join("evil.jpg"), fixture("evil.jpg")).unwrap();
    std::fs::write(dir.join("media/.secret.jpg"), fixture("evening-walk.jpg")).unwrap();
    std::fs::write(dir.join("secret.txt"), "not for readers").unwrap();
    write_article(
        dir,
        "mended.md",
        "title = \"Mended\"\ndate = 2026-01-01\nimage = \"@/media/2024/05/walk.jpg\"\nimage_alt = \"An evening walk by the river\"",
        "The first lines.\n\n![A bowl with gold seams](@/media/2024/05/wide.png)\n\nMore text.\n\n![A mended bowl](@/media/2024/05/bowl.jpg \"Mended with gold, 2024\")\n",
    );
    write_article(
        dir,
        "plain.md",
        "title = \"Plain\"\ndate = 2025-01-01",
        "Text first.\n\n![A bowl with gold seams](@/media/2024/05/wide.png)\n\nand ![a walk](@/media/2024/05/walk.jpg) inline.\n",
    );
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The `<img ...>` tags of `html` whose alt is `alt`.
fn img_with_alt<'a>(html: &'a str, alt: &str) -> &'a str {
    html.split("<img ")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .find(|tag| attr(&format!(" {tag}"), "alt") == Some(alt))
        .unwrap_or_else(|| panic!("no <img alt=\"{alt}\"> in {html}"))
}

#[actix_web::test]
async fn article_pictures_have_sizes_hashed_addresses_and_smaller_copies() {
    let app = spawn_with_content(media_content).await;
    let (status, page) = app.page("/articles/mended").await;
    assert_eq!(status, 200, "{page}");

    let wide = format!(" {}", img_with_alt(&page, "A bowl with gold seams"));
    assert_eq!(attr(&wide, "width"), Some("1200"));
    assert_eq!(attr(&wide, "height"), Some("800"));
    let src = attr(&wide, "src").unwrap();
    assert!(
        src.starts_with("/media/2024/05/wide.")
            && src.ends_with(".png")
            && src.len() == "/media/2024/05/wide.0123456789.png".len(),
        "{src}"
    );
    // The featured picture is on the first screen, so the text's are lazy.
    assert_eq!(attr(&wide, "loading"), Some("lazy"));
    let srcset = attr(&wide, "srcset").unwrap();
    assert!(
        srcset.contains(" 480w")
            && srcset.contains(" 960w")
            && srcset.contains(&format!("{src} 1200w")),
        "{srcset}"
    );
    assert!(attr(&wide, "sizes").is_some());

    // A captioned picture alone in its paragraph is a figure.
    let bowl = format!(" {}", img_with_alt(&page, "A mended bowl"));
    assert_eq!(attr(&bowl, "width"), Some("480"));
    assert_eq!(attr(&bowl, "height"), Some("320"));
    assert_eq!(attr(&bowl, "loading"), Some("lazy"));
    let figure_start = page
        .find("<figure><img src=\"/media/2024/05/bowl.")
        .expect("a figure");
    assert!(
        page[figure_start..].contains("<figcaption>Mended with gold, 2024</figcaption></figure>")
    );

    // The featured picture under the title, with its size, eager.
    let walk = format!(" {}", img_with_alt(&page, "An evening walk by the river"));
    assert_eq!(attr(&walk, "width"), Some("600"));
    assert_eq!(attr(&walk, "height"), Some("400"));
    assert_eq!(attr(&walk, "loading"), Some("eager"));
    let walk_src = attr(&walk, "src").unwrap().to_string();
    assert!(walk_src.starts_with("/media/2024/05/walk."));
    assert!(
        page.contains(&format!(
            "<meta property=\"og:image\" content=\"{BASE_URL}{walk_src}\">"
        )),
        "og:image"
    );

    // Without a featured picture, the text's first picture is eager and
    // the second lazy.
    let (_, plain) = app.page("/articles/plain").await;
    let first = format!(" {}", img_with_alt(&plain, "A bowl with gold seams"));
    let second = format!(" {}", img_with_alt(&plain, "a walk"));
    assert_eq!(attr(&first, "loading"), Some("eager"));
    assert_eq!(attr(&second, "loading"), Some("lazy"));

    // The home page's card shows the featured picture.
    let (_, home) = app.page("/").await;
    let card = format!(" {}", img_with_alt(&home, "An evening walk by the river"));
    assert_eq!(attr(&card, "src"), Some(walk_src.as_str()));
    assert_eq!(attr(&card, "width"), Some("600"));

    // The hashed address: the right type, a year's cache.
    let res = app.get(src).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), wide_png().as_slice());

    // A smaller copy, made at start in the data folder.
    let copy = srcset
        .split(", ")
        .find(|c| c.ends_with(" 480w"))
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let res = app.get(copy).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let small = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((small.width(), small.height()), (480, 320));
    assert!(app.data_dir.join("media-cache").read_dir().unwrap().count() >= 2);

    // The plain address (old links) leads to the hashed one.
    let res = app.get("/media/2024/05/wide.png").await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], src);

    // Nothing else under /media/.
    for path in [
        "/media/2024/05/nope.png",
        "/media/2024/05/evil.jpg",
        "/media/.secret.jpg",
        "/media/2024/05/..%2F..%2F..%2Fsecret.txt",
        "/media/..%2Fsecret.txt",
        "/media/2024/05/wide.0000000000.png",
        "/media/",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

#[actix_web::test]
async fn a_traversal_with_raw_dots_is_not_found() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_with_content(media_content).await;
    let addr = app.address.trim_start_matches("http://").to_string();
    for path in ["/media/../secret.txt", "/media/2024/../../secret.txt"] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
        assert!(!answer.contains("not for readers"));
    }
}

#[actix_web::test]
async fn check_reports_media_that_is_not_a_picture_and_pictures_without_alt() {
    let dir = tempfile::tempdir().unwrap();
    media_content(dir.path());
    write_article(
        dir.path(),
        "broken.md",
        "title = \"Broken\"\ndate = 2026-01-01",
        "Text.\n\n![](@/media/2024/05/bowl.jpg)\n\n![A cup](@/media/2024/05/cup.jpg)\n",
    );
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .arg("check")
        .env("KINTSUGI_CONTENT_DIR", dir.path())
        .env("KINTSUGI_DATA_DIR", data.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let evil = dir
        .path()
        .join("media/2024/05/evil.jpg")
        .display()
        .to_string();
    assert!(
        stderr.lines().any(|l| l
            == format!("{evil}:1: not a JPEG, PNG, WebP or GIF image (it looks like an HTML page); it will not be served")),
        "{stderr}"
    );
    let broken = dir.path().join("articles/broken.md").display().to_string();
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{broken}:8: "))
                && l.contains("needs alt text: a few words saying what it shows")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{broken}:10: "))
                && l.contains("there is no file content/media/2024/05/cup.jpg")),
        "{stderr}"
    );
    // `check` needs no data folder: it made nothing there.
    assert_eq!(data.path().read_dir().unwrap().count(), 0);

    // The site itself starts with the HTML file in media (it is never
    // served), once the articles are fixed.
    std::fs::remove_file(dir.path().join("articles/broken.md")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .arg("check")
        .env("KINTSUGI_CONTENT_DIR", dir.path())
        .env("KINTSUGI_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "check still reports evil.jpg");
    let app = spawn_with_content(media_content).await;
    assert_eq!(app.page("/articles/mended").await.0, 200);
    assert_eq!(app.get("/media/2024/05/evil.jpg").await.status(), 404);
}

#[actix_web::test]
async fn a_reload_makes_copies_of_a_new_picture() {
    let app = spawn_with_content(media_content).await;
    std::fs::write(app.content_dir.join("media/2024/05/later.png"), wide_png()).unwrap();
    app.write_article(
        "later.md",
        "title = \"Later\"\ndate = 2026-02-01",
        "Hi.\n\n![A later bowl](@/media/2024/05/later.png)\n",
    );
    assert!(app.state.content.reload().is_ok());
    let (status, page) = app.page("/articles/later").await;
    assert_eq!(status, 200);
    let img = format!(" {}", img_with_alt(&page, "A later bowl"));
    let srcset = attr(&img, "srcset").expect("copies made at reload");
    let copy = srcset.split(' ').next().unwrap();
    assert_eq!(app.get(copy).await.status(), 200);
}
