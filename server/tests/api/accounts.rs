use crate::helpers::{spawn_app, spawn_app_with, Options};
use app::api::views::SessionView;
use app::error::ErrorKind;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn sign_up_starts_a_session_in_an_http_only_lax_cookie() {
    let app = spawn_app().await;
    let browser = app.browser();
    let response = browser
        .client
        .post(app.url("/api/sign_up"))
        .json(&json!({"shop_name": "Ana's Shoes", "email": "Owner@AnaShoes.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cookie.starts_with("rekomi_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http must not set Secure: {cookie}");
    let session: SessionView = response.json().await.expect("json");
    assert_eq!(session.merchant_slug, "ana-s-shoes");
    assert_eq!(session.user_email, "owner@anashoes.com");

    let current: Option<SessionView> = browser.call("current_session", json!({})).await.expect("session");
    assert_eq!(current.map(|s| s.merchant_name), Some("Ana's Shoes".into()));
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser
        .call::<Value>(
            "sign_up",
            json!({"shop_name": "Store", "email": "h@example.com", "password": "correct horse battery"}),
        )
        .await
        .expect("sign up");
    let stored = server::store::accounts::credentials(&app.db, "h@example.com").await.expect("query").expect("user");
    assert!(stored.password_hash.starts_with("$argon2id$"), "{}", stored.password_hash);
    assert!(!stored.password_hash.contains("correct horse"));
}

#[tokio::test]
async fn sign_up_reports_each_invalid_field() {
    let app = spawn_app().await;
    let (status, error) = app
        .browser()
        .call::<Value>("sign_up", json!({"shop_name": " ", "email": "nope", "password": "short"}))
        .await
        .expect_err("invalid");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert_eq!(error.fields.get("shop_name"), Some("This field is required."));
    assert_eq!(
        error.fields.get("email"),
        Some("An email address has one @ between a name and a domain, like ana@example.com.")
    );
    assert_eq!(error.fields.get("password"), Some("Use at least 10 characters."));
}

#[tokio::test]
async fn an_email_can_register_only_once() {
    let app = spawn_app().await;
    let body = json!({"shop_name": "Shop", "email": "dup@example.com", "password": "correct horse battery"});
    app.browser().call::<Value>("sign_up", body.clone()).await.expect("first");
    let (status, error) = app.browser().call::<Value>("sign_up", body).await.expect_err("second");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error.fields.get("email"), Some("An account with this email already exists. Log in instead."));
}

#[tokio::test]
async fn two_shops_with_one_name_get_distinct_slugs() {
    let app = spawn_app().await;
    let mut slugs = Vec::new();
    for n in 0..3 {
        let session: SessionView = app
            .browser()
            .call("sign_up", json!({"shop_name": "Twin Shop", "email": format!("t{n}@example.com"), "password": "correct horse battery"}))
            .await
            .expect("sign up");
        slugs.push(session.merchant_slug);
    }
    assert_eq!(slugs, ["twin-shop", "twin-shop-2", "twin-shop-3"]);
}

#[tokio::test]
async fn log_in_and_log_out() {
    let app = spawn_app().await;
    app.browser()
        .call::<Value>(
            "sign_up",
            json!({"shop_name": "Shop", "email": "me@example.com", "password": "correct horse battery"}),
        )
        .await
        .expect("sign up");

    let browser = app.browser();
    let (status, error) = browser
        .call::<Value>("log_in", json!({"email": "me@example.com", "password": "wrong horse battery"}))
        .await
        .expect_err("wrong password");
    assert_eq!((status, error.message.as_str()), (StatusCode::UNAUTHORIZED, "Email or password is incorrect."));
    let (_, unknown) = browser
        .call::<Value>("log_in", json!({"email": "nobody@example.com", "password": "correct horse battery"}))
        .await
        .expect_err("unknown email");
    assert_eq!(unknown.message, error.message, "unknown emails read exactly like wrong passwords");

    browser
        .call::<Value>("log_in", json!({"email": " ME@example.com ", "password": "correct horse battery"}))
        .await
        .expect("logs in");
    browser.call::<Value>("list_campaigns", json!({})).await.expect("signed in");
    browser.call::<Value>("log_out", json!({})).await.expect("logs out");
    let (status, error) = browser.call::<Value>("list_campaigns", json!({})).await.expect_err("signed out");
    assert_eq!((status, error.kind), (StatusCode::UNAUTHORIZED, ErrorKind::Unauthorized));
}

#[tokio::test]
async fn log_in_is_rate_limited_per_address() {
    let app = spawn_app_with(Options { auth_per_minute: 3, ..Options::default() }).await;
    let browser = app.browser();
    for _ in 0..3 {
        let (status, _) = browser
            .call::<Value>("log_in", json!({"email": "x@example.com", "password": "whatever-whatever"}))
            .await
            .expect_err("wrong");
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, error) = browser
        .call::<Value>("log_in", json!({"email": "x@example.com", "password": "whatever-whatever"}))
        .await
        .expect_err("limited");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(error.message.starts_with("Too many attempts. Try again in "), "{}", error.message);
    assert!(error.message.ends_with(" s."), "{}", error.message);
}

#[tokio::test]
async fn cross_site_posts_are_refused_before_any_handler_runs() {
    let app = spawn_app().await;
    let body = json!({"shop_name": "Evil", "email": "evil@example.com", "password": "correct horse battery"});
    let client = reqwest::Client::new();
    let forged = client
        .post(app.url("/api/sign_up"))
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let error: app::error::AppError = forged.json().await.expect("the server functions' JSON error shape");
    assert_eq!(error.kind, ErrorKind::Forbidden);
    assert!(error.message.starts_with("This request came from another website"), "{}", error.message);
    let fetch_metadata = client
        .post(app.url("/api/sign_up"))
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(fetch_metadata.status(), StatusCode::FORBIDDEN);
    assert!(
        server::store::accounts::credentials(&app.db, "evil@example.com").await.expect("query").is_none(),
        "nothing was written"
    );

    let same_origin = client
        .post(app.url("/api/sign_up"))
        .header("origin", app.address.clone())
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(same_origin.status(), StatusCode::OK);
}
