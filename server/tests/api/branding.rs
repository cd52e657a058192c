//! A campaign's landing-page look: colour, logo and hero image, stored and served by Rekomi.

use crate::helpers::{campaign_form, spawn_app, Browser};
use app::domain::branding::Branding;
use app::error::AppError;
use reqwest::{header, StatusCode};
use serde_json::json;

/// The start of a PNG: signature and header chunk, which say its format and size.
fn png(width: u32, height: u32, salt: u8) -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 6, 0, 0, 0, salt, 0, 0, 0]);
    bytes
}

async fn put(browser: &Browser, campaign: i64, slot: &str, body: Vec<u8>) -> Result<Branding, (StatusCode, AppError)> {
    let response = browser
        .client
        .put(format!("{}/api/campaigns/{campaign}/images/{slot}", browser.address))
        .header(header::CONTENT_TYPE, "image/png")
        .body(body)
        .send()
        .await
        .expect("answer");
    let status = response.status();
    let text = response.text().await.expect("body");
    if status == StatusCode::OK {
        Ok(serde_json::from_str(&text).expect("branding"))
    } else {
        Err((status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))))
    }
}

fn message(e: &AppError) -> String {
    e.fields.iter().next().map(|(_, m)| m.to_owned()).unwrap_or_else(|| e.message.clone())
}

#[tokio::test]
async fn a_campaign_gets_its_colour_logo_and_hero_image_on_a_page_that_stays_script_free() {
    let app = spawn_app().await;
    let merchant = app.merchant("Brand Shop").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("campaign");
    let id = campaign.id.get();
    let start: Branding = merchant.call("campaign_branding", json!({"id": id})).await.expect("branding");
    assert_eq!(start, Branding::default());

    // The colour: parsed, normalised, and refused with the reason when it isn't one.
    let (status, refused) =
        merchant.call::<Branding>("save_brand_color", json!({"id": id, "color": "red"})).await.expect_err("no");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.fields.get("color").is_some_and(|m| m.contains("six hex digits")), "{refused:?}");
    let saved: Branding = merchant.call("save_brand_color", json!({"id": id, "color": "#FFD60A"})).await.expect("ok");
    assert_eq!(saved.color.map(|c| c.hex()).as_deref(), Some("#ffd60a"));

    // Files are judged by their bytes: SVG (it can carry script), a non-image, a too-small hero.
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let (status, e) = put(&merchant, id, "logo", svg).await.expect_err("svg refused");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&e).contains("SVG"), "{e:?}");
    let (_, e) = put(&merchant, id, "logo", b"GIF? no".to_vec()).await.expect_err("not an image");
    assert!(message(&e).contains("not a PNG, JPEG, WebP or GIF"), "{e:?}");
    let (_, e) = put(&merchant, id, "hero", png(300, 200, 1)).await.expect_err("too small");
    assert!(message(&e).contains("at least 640×160"), "{e:?}");
    let (status, e) = put(&merchant, id, "hero", vec![0; 4 * 1024 * 1024]).await.expect_err("too large");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&e).contains("largest hero image taken is 3072 KB"), "{e:?}");
    let (status, _) = put(&merchant, id, "banner", png(100, 100, 1)).await.expect_err("no such slot");
    assert_eq!(status, StatusCode::NOT_FOUND);

    let logo_bytes = png(200, 80, 1);
    let branded = put(&merchant, id, "logo", logo_bytes.clone()).await.expect("logo");
    let logo = branded.logo.clone().expect("a logo");
    assert!(logo.url.starts_with("/media/") && logo.url.ends_with(".png"), "{logo:?}");
    assert_eq!((logo.width, logo.height), (200, 80));
    let hero = put(&merchant, id, "hero", png(1200, 400, 1)).await.expect("hero").hero.expect("a hero");

    // The page: colour set inline from the parsed value, both images at their size, no script.
    let page = reqwest::get(app.url(&campaign.landing_path)).await.expect("page").text().await.expect("html");
    assert!(page.contains("style=\"--brand:#ffd60a;--brand-dark:#ccab08;--brand-ink:#1a1a1a;"), "{page}");
    assert!(page.contains(&format!("src=\"{}\" width=\"200\" height=\"80\" alt=\"Brand Shop logo\"", logo.url)));
    assert!(page.contains(&format!("src=\"{}\" width=\"1200\" height=\"400\" alt=\"\" class=\"hero-image\"", hero.url)));
    assert!(!page.contains("<script"));

    // Served by Rekomi, cached for ever under its content's name, never run as a document.
    let served = reqwest::get(app.url(&logo.url)).await.expect("image");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(served.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert!(served.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("csp").contains("sandbox"));
    let etag = served.headers()[header::ETAG].clone();
    assert_eq!(served.bytes().await.expect("bytes").to_vec(), logo_bytes);
    let again = reqwest::Client::new()
        .get(app.url(&logo.url))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("revalidated");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let wrong_kind = logo.url.replace(".png", ".gif");
    assert_eq!(reqwest::get(app.url(&wrong_kind)).await.expect("answer").status(), StatusCode::NOT_FOUND);

    // A replaced image is deleted with its address; a removed one too.
    let replaced = put(&merchant, id, "logo", png(240, 80, 2)).await.expect("new logo").logo.expect("logo");
    assert_ne!(replaced.url, logo.url);
    assert_eq!(reqwest::get(app.url(&logo.url)).await.expect("answer").status(), StatusCode::NOT_FOUND);
    let response = merchant
        .client
        .delete(format!("{}/api/campaigns/{id}/images/logo", merchant.address))
        .send()
        .await
        .expect("removed");
    assert_eq!(response.status(), StatusCode::OK);
    let after: Branding = response.json().await.expect("branding");
    assert!(after.logo.is_none() && after.hero.is_some());
    assert_eq!(reqwest::get(app.url(&replaced.url)).await.expect("answer").status(), StatusCode::NOT_FOUND);
    let page = reqwest::get(app.url(&campaign.landing_path)).await.expect("page").text().await.expect("html");
    assert!(!page.contains("brand-logo") && page.contains("hero-image"));

    // Back to Rekomi's colours.
    let plain: Branding = merchant.call("save_brand_color", json!({"id": id, "color": ""})).await.expect("cleared");
    assert!(plain.color.is_none());
    let page = reqwest::get(app.url(&campaign.landing_path)).await.expect("page").text().await.expect("html");
    assert!(!page.contains("--brand:"));
}

#[tokio::test]
async fn another_merchant_or_nobody_cannot_change_a_campaign_s_look() {
    let app = spawn_app().await;
    let merchant = app.merchant("Owner Shop").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("campaign");
    let id = campaign.id.get();
    let stranger = app.merchant("Other Shop").await;
    let (status, _) = put(&stranger, id, "logo", png(100, 100, 1)).await.expect_err("not theirs");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        stranger.call::<Branding>("save_brand_color", json!({"id": id, "color": "#000000"})).await.expect_err("no");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = stranger.call::<Branding>("campaign_branding", json!({"id": id})).await.expect_err("no");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = put(&app.browser(), id, "logo", png(100, 100, 1)).await.expect_err("signed out");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mine: Branding = merchant.call("campaign_branding", json!({"id": id})).await.expect("mine");
    assert_eq!(mine, Branding::default());
}
