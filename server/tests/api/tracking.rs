//! Tracking links, Shopify order webhooks, the conversion API, commissions (hold, refunds,
//! clawback, self-referral) and the affiliate portal, end to end over HTTP.

use crate::helpers::{application, campaign_form, spawn_app, Browser, TestApp};
use app::api::views::{AffiliateEarnings, NewApiToken, ReportView, TrackingSettings};
use app::domain::commission::CommissionState;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::services::shopify::sign;
use server::services::{earnings, payouts};
use server::store::now_ms;

const PHONE_UA: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";
const SECRET: &str = "shpss_test_signing_secret";
const BROWSER_UA: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

struct Shop {
    merchant: Browser,
    slug: String,
    landing: String,
}

/// A merchant with an auto-approving campaign (10 %, 30-day cookie) and its Shopify secret set.
async fn shop(app: &TestApp, overrides: Value) -> Shop {
    let merchant = app.merchant("Trail Shop").await;
    let mut form =
        campaign_form(json!({"auto_approve": true, "destination_url": "https://shop.example.com/?utm_source=aff"}));
    if let (Some(form), Some(o)) = (form.as_object_mut(), overrides.as_object()) {
        form.extend(o.clone());
    }
    let campaign = merchant.create_campaign(form).await.expect("campaign");
    let settings: TrackingSettings =
        merchant.call("set_shopify_secret", json!({"secret": SECRET})).await.expect("secret saved");
    assert!(settings.shopify_secret_set);
    let slug = settings.webhook_url.rsplit('/').next().expect("slug").to_owned();
    Shop { merchant, slug, landing: campaign.landing_path }
}

/// An approved affiliate; returns (id, referral code).
async fn affiliate(app: &TestApp, shop: &Shop, name: &str, email: &str) -> (i64, String) {
    let (status, _) = shop.merchant.apply(&shop.landing, &application(name, email)).await;
    assert_eq!(status, StatusCode::OK);
    let a = shop.merchant.find(email).await;
    let _ = app;
    (a.id.get(), a.referral_code.expect("auto-approved affiliates have a code"))
}

async fn webhook(app: &TestApp, shop: &Shop, topic: &str, body: &Value, secret: &str) -> (StatusCode, Value) {
    let raw = serde_json::to_vec(body).expect("json");
    let response = reqwest::Client::new()
        .post(app.url(&format!("/webhooks/shopify/{}", shop.slug)))
        .header("x-shopify-topic", topic)
        .header("x-shopify-hmac-sha256", sign(secret, &raw))
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .expect("webhook answered");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn order(id: u64, subtotal: &str, touches: &str, email: &str) -> Value {
    json!({
        "id": id, "name": format!("#{id}"), "email": email, "currency": "USD", "subtotal_price": subtotal,
        "note_attributes": [{"name": "rekomi_ref", "value": touches}],
        "processed_at": "2026-11-24T10:00:00Z"
    })
}

async fn earnings_of(shop: &Shop, id: i64) -> AffiliateEarnings {
    shop.merchant.call("affiliate_earnings", json!({"id": id})).await.expect("earnings load")
}

fn touch(code: &str, days_ago: i64) -> String {
    let clicked = server::services::orders::parse_time("2026-11-24T10:00:00Z").expect("time") - days_ago * 86_400_000;
    format!("{code}.{clicked}")
}

#[tokio::test]
async fn shopify_orders_need_a_valid_signature_and_count_once() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let body = order(1001, "120.50", &touch(&code, 1), "buyer@example.com");

    let (status, answer) = webhook(&app, &shop, "orders/paid", &body, "wrong secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_signature");
    assert_eq!(earnings_of(&shop, ana).await.conversions, 0, "a refused delivery records nothing");

    let (status, answer) = webhook(&app, &shop, "orders/paid", &body, SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["conversion"]["commission_minor"], 1205, "10 % of 120.50, rounded half up");
    for _ in 0..3 {
        let (status, answer) = webhook(&app, &shop, "orders/paid", &body, SECRET).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["conversion"]["duplicate"], true);
    }
    let e = earnings_of(&shop, ana).await;
    assert_eq!((e.conversions, e.earnings.pending.as_str()), (1, "12.05 USD"));
    assert_eq!(e.commissions.len(), 1);
    assert!(e.commissions[0].state_label.starts_with("Pending until"), "{:?}", e.commissions[0]);

    let (status, answer) = webhook(&app, &shop, "orders/paid", &json!({"id": 5, "currency": "USD"}), SECRET).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("subtotal_price")), "{answer}");
    let (status, _) = webhook(&app, &shop, "customers/create", &json!({}), SECRET).await;
    assert_eq!(status, StatusCode::OK, "topics Rekomi doesn't use are acknowledged");
}

#[tokio::test]
async fn refunds_reduce_unpaid_commissions_and_claw_back_paid_ones() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({"hold_days": "0"})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let (_, bob_code) = affiliate(&app, &shop, "Bob Reyes", "bob@example.com").await;

    // A pending commission is cut in proportion, and voided by a full refund.
    webhook(&app, &shop, "orders/paid", &order(2001, "100.00", &touch(&bob_code, 1), "x@example.com"), SECRET).await;
    let refund = |id: u64, order: u64, amount: &str| {
        json!({"id": id, "order_id": order, "refund_line_items": [{"subtotal": amount,
            "subtotal_set": {"shop_money": {"amount": amount, "currency_code": "USD"}}}]})
    };
    let (_, answer) = webhook(&app, &shop, "refunds/create", &refund(1, 2001, "25.00"), SECRET).await;
    assert_eq!(answer["commission_minor"], 750);
    let (_, again) = webhook(&app, &shop, "refunds/create", &refund(1, 2001, "25.00"), SECRET).await;
    assert_eq!(again["applied"], false, "the same refund twice counts once: {again}");
    let (_, answer) = webhook(&app, &shop, "refunds/create", &refund(2, 2001, "75.00"), SECRET).await;
    assert_eq!(answer["commission_minor"], 0);

    // Paid, then refunded: a negative line for the next payout.
    webhook(&app, &shop, "orders/paid", &order(3001, "200.00", &touch(&code, 1), "y@example.com"), SECRET).await;
    let merchant_id = server::store::portal::merchant_by_slug(&app.db, &shop.slug).await.expect("db").expect("shop").0;
    assert_eq!(earnings::approve_due(&app.db, now_ms() + 1).await.expect("approve"), 1, "hold of 0 days is over");
    let e = earnings_of(&shop, ana).await;
    assert_eq!(e.earnings.approved, "20.00 USD");
    let run = match payouts::open_run(&app.db, merchant_id, "test", now_ms()).await.expect("run") {
        payouts::Created::Run(id) => id,
        payouts::Created::NothingDue => panic!("20.00 USD is due"),
    };
    assert!(payouts::pay_run(&app.db, merchant_id, run, "PAYOUT-1", now_ms()).await.expect("paid"));
    let (_, answer) = webhook(&app, &shop, "refunds/create", &refund(3, 3001, "50.00"), SECRET).await;
    assert_eq!(answer["clawback_minor"], -500, "{answer}");
    let e = earnings_of(&shop, ana).await;
    assert_eq!(e.earnings.paid, "20.00 USD");
    assert_eq!(e.earnings.approved, "-5.00 USD", "carried into the next payout");
    assert!(e.commissions.iter().any(|c| c.clawback && c.amount == "-5.00 USD"), "{:?}", e.commissions);
    // A refund Shopify delivers before its order is kept, and applied when the order arrives.
    let (status, answer) = webhook(&app, &shop, "refunds/create", &refund(4, 4001, "30.00"), SECRET).await;
    assert_eq!((status, answer["applied"].clone()), (StatusCode::OK, json!(false)));
    let (_, answer) =
        webhook(&app, &shop, "orders/paid", &order(4001, "120.00", &touch(&code, 1), "z@example.com"), SECRET).await;
    assert_eq!(answer["conversion"]["duplicate"], false);
    let e = earnings_of(&shop, ana).await;
    let line = e.commissions.iter().find(|c| c.order == "#4001").expect("the order's commission");
    assert_eq!(line.amount, "9.00 USD", "10 % of the 90.00 left after the early refund");
    // A refund in another currency than its order's is refused by name.
    let mut euro = refund(5, 4001, "1.00");
    euro["refund_line_items"][0]["subtotal_set"]["shop_money"]["currency_code"] = json!("EUR");
    let (status, answer) = webhook(&app, &shop, "refunds/create", &euro, SECRET).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

#[tokio::test]
async fn the_campaign_model_picks_the_first_or_last_click_within_the_cookie_window() {
    let app = spawn_app().await;
    let last = shop(&app, json!({"name": "Last Click", "cookie_days": "7"})).await;
    let (ana, ana_code) = affiliate(&app, &last, "Ana Lima", "ana@example.com").await;
    let (bob, bob_code) = affiliate(&app, &last, "Bob Reyes", "bob@example.com").await;
    let touches = format!("{}|{}", touch(&ana_code, 3), touch(&bob_code, 1));
    webhook(&app, &last, "orders/paid", &order(1, "10.00", &touches, "c@example.com"), SECRET).await;
    assert_eq!(earnings_of(&last, bob).await.conversions, 1, "last click wins");
    assert_eq!(earnings_of(&last, ana).await.conversions, 0);

    let first_campaign = last
        .merchant
        .create_campaign(campaign_form(json!({"name": "First Click", "attribution": "first", "auto_approve": true,
            "destination_url": "https://shop.example.com"})))
        .await
        .expect("campaign");
    let first = Shop { merchant: last.merchant, slug: last.slug.clone(), landing: first_campaign.landing_path };
    let (cat, cat_code) = affiliate(&app, &first, "Cat Wu", "cat@example.com").await;
    let (dan, dan_code) = affiliate(&app, &first, "Dan Ito", "dan@example.com").await;
    let touches = format!("{}|{}", touch(&cat_code, 3), touch(&dan_code, 1));
    webhook(&app, &first, "orders/paid", &order(2, "10.00", &touches, "c@example.com"), SECRET).await;
    assert_eq!(earnings_of(&first, cat).await.conversions, 1, "first click wins");
    assert_eq!(earnings_of(&first, dan).await.conversions, 0);

    // Ana's 7-day window: a click 8 days before the order earns nothing.
    let (_, answer) =
        webhook(&app, &first, "orders/paid", &order(3, "10.00", &touch(&ana_code, 8), "c@example.com"), SECRET).await;
    assert_eq!(answer["attributed"], false, "{answer}");
    let (_, answer) =
        webhook(&app, &first, "orders/paid", &order(4, "10.00", &touch(&ana_code, 6), "c@example.com"), SECRET).await;
    assert_eq!(answer["attributed"], true, "{answer}");
}

#[tokio::test]
async fn a_self_referral_is_held_until_the_merchant_decides() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let (_, answer) =
        webhook(&app, &shop, "orders/paid", &order(7, "50.00", &touch(&code, 0), "ANA@example.com"), SECRET).await;
    assert_eq!(answer["conversion"]["state"], "held");
    let report: ReportView = shop.merchant.call("earnings_report", json!({"filter": {}})).await.expect("report");
    assert_eq!(report.held.len(), 1);
    assert!(report.held[0].held_reason.as_deref().is_some_and(|r| r.contains("own")));
    assert_eq!(earnings::approve_due(&app.db, now_ms() + 365 * 86_400_000).await.expect("sweep"), 0, "held stays held");
    let _: Value = shop
        .merchant
        .call("decide_commission", json!({"id": report.held[0].id, "release": true}))
        .await
        .expect("released");
    let e = earnings_of(&shop, ana).await;
    assert_eq!(e.commissions[0].state, CommissionState::Pending);
    let again =
        shop.merchant.call::<Value>("decide_commission", json!({"id": report.held[0].id, "release": false})).await;
    assert_eq!(again.expect_err("no longer held").0, StatusCode::CONFLICT);
}

#[tokio::test]
async fn tracking_links_redirect_and_count_each_visitor_once_an_hour() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let visitor = app.browser();
    let get = |client: &reqwest::Client, path: String, ua: &'static str| {
        let request = client.get(app.url(&path)).header("user-agent", ua);
        async move { request.send().await.expect("answered") }
    };
    let first = get(&visitor.client, format!("/r/{code}"), BROWSER_UA).await;
    assert_eq!(first.status(), StatusCode::FOUND);
    let location = first.headers()["location"].to_str().expect("ascii").to_owned();
    assert_eq!(location, format!("https://shop.example.com/?utm_source=aff&ref={code}"));
    assert!(first.headers()["set-cookie"].to_str().expect("ascii").starts_with("rk_v="));
    for _ in 0..3 {
        assert_eq!(
            get(&visitor.client, format!("/r/{}", code.to_uppercase()), BROWSER_UA).await.status(),
            StatusCode::FOUND
        );
    }
    let bot = get(&app.browser().client, format!("/r/{code}"), "Googlebot/2.1 (+http://www.google.com/bot.html)").await;
    assert_eq!(bot.status(), StatusCode::FOUND, "bots still reach the shop");
    // Without a cookie a visitor is known by address and browser: same ones, same visitor.
    assert_eq!(get(&app.browser().client, format!("/r/{code}"), BROWSER_UA).await.status(), StatusCode::FOUND);
    assert_eq!(get(&app.browser().client, format!("/r/{code}"), PHONE_UA).await.status(), StatusCode::FOUND);
    assert_eq!(get(&visitor.client, "/r/no-such-code".into(), BROWSER_UA).await.status(), StatusCode::NOT_FOUND);
    app.services.tracker.flush().await;
    assert_eq!(earnings_of(&shop, ana).await.clicks, 2, "one visitor counted once, a second browser, no bot");

    let snippet = get(&visitor.client, "/t/snippet.js".into(), BROWSER_UA).await;
    assert_eq!(snippet.status(), StatusCode::OK);
    assert!(snippet.text().await.expect("body").contains("rekomi_ref"));
}

#[tokio::test]
async fn the_conversion_api_is_token_authenticated_and_idempotent() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let token: NewApiToken = shop.merchant.call("create_api_token", json!({"name": "Woo store"})).await.expect("token");
    let post = |auth: Option<String>, key: Option<&'static str>, body: Value| {
        let mut request = reqwest::Client::new().post(app.url("/api/v1/conversions")).json(&body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        async move {
            let response = request.send().await.expect("answered");
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let bearer = Some(format!("Bearer {}", token.token));
    let body = json!({"order_id": "W-1", "amount_minor": 5000, "currency": "USD", "referral_code": code});
    assert_eq!(post(None, Some("k1"), body.clone()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(post(Some("Bearer rk_nope".into()), Some("k1"), body.clone()).await.0, StatusCode::UNAUTHORIZED);
    // Without a key the order id still makes it idempotent: the second call records nothing new.
    let keyless = json!({"order_id": "W-0", "amount_minor": 5000, "currency": "USD", "referral_code": code});
    assert_eq!(post(bearer.clone(), None, keyless.clone()).await.0, StatusCode::CREATED);
    let (status, again) = post(bearer.clone(), None, keyless).await;
    assert_eq!((status, again["conversion"]["duplicate"].clone()), (StatusCode::OK, json!(true)));
    let (status, answer) = post(bearer.clone(), Some("k1"), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["conversion"]["commission_minor"], 500);
    let (status, replay) = post(bearer.clone(), Some("k1"), body.clone()).await;
    assert_eq!((status, replay), (StatusCode::CREATED, answer), "a retry gets the first answer");
    let other = json!({"order_id": "W-2", "amount_minor": 5000, "currency": "USD", "referral_code": code});
    let (status, answer) = post(bearer.clone(), Some("k1"), other).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("idempotency_key_reused"))
    );
    let (status, answer) = post(
        bearer.clone(),
        Some("k2"),
        json!({"order_id": "W-3", "amount_minor": 1, "currency": "XYZ", "referral_code": code}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_currency"))
    );
    let (status, answer) = post(
        bearer.clone(),
        Some("k3"),
        json!({"order_id": "W-4", "amount_minor": 1, "currency": "USD", "refferal": code}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a misspelt field is named: {answer}");
    assert_eq!(earnings_of(&shop, ana).await.conversions, 2, "W-0 and W-1");

    let settings: TrackingSettings =
        shop.merchant.call("revoke_api_token", json!({"id": token.view.id})).await.expect("revoked");
    assert!(settings.tokens[0].revoked);
    assert_eq!(post(bearer, Some("k9"), body).await.0, StatusCode::UNAUTHORIZED);
}

/// Inputs the fuzzer found: text PostgreSQL can't store and amounts past any real order are named
/// as the caller's mistake (422), never a 500, and record nothing.
#[tokio::test]
async fn the_conversion_api_refuses_nul_text_and_impossible_amounts() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let token: NewApiToken = shop.merchant.call("create_api_token", json!({"name": "Woo store"})).await.expect("token");
    let bearer = format!("Bearer {}", token.token);
    let post = |path: &str, body: Value| {
        let request = reqwest::Client::new().post(app.url(path)).header("authorization", &bearer).json(&body);
        async move {
            let response = request.send().await.expect("answered");
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let ok = json!({"order_id": "N-1", "amount_minor": 5000, "currency": "USD", "referral_code": code});
    for (field, value) in [
        ("order_id", json!("N\u{0}1")),
        ("coupon_code", json!("\u{0}")),
        ("referral_code", json!("a\u{0}")),
        ("order_name", json!("#\u{0}")),
        ("customer_email", json!("\u{0}@example.com")),
        ("idempotency_key", json!("k\u{0}")),
    ] {
        let mut body = ok.clone();
        body[field] = value;
        let (status, answer) = post("/api/v1/conversions", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap_or("").contains(field), "{answer}");
    }
    let (status, answer) = post(
        "/api/v1/conversions",
        json!({"order_id": "N-2", "amount_minor": i64::MAX, "currency": "USD", "referral_code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(post("/api/v1/conversions", ok).await.0, StatusCode::CREATED);

    let refund = json!({"refund_id": "R-1", "amount_minor": 100});
    assert_eq!(post("/api/v1/conversions/N%001/refunds", refund.clone()).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, answer) =
        post("/api/v1/conversions/N-1/refunds", json!({"refund_id": "R\u{0}", "amount_minor": 100})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) =
        post("/api/v1/conversions/N-1/refunds", json!({"refund_id": "R-2", "amount_minor": i64::MAX})).await;
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    let (status, answer) =
        post("/api/v1/conversions/nothing-yet/refunds", json!({"refund_id": "R-3", "amount_minor": i64::MAX})).await;
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert_eq!(earnings_of(&shop, ana).await.conversions, 1, "only N-1");
}

#[tokio::test]
async fn an_affiliate_signs_in_to_the_portal_once_per_link() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    webhook(&app, &shop, "orders/paid", &order(11, "80.00", &touch(&code, 0), "b@example.com"), SECRET).await;
    let (url, emailed): (String, bool) = shop.merchant.call("portal_link", json!({"id": ana})).await.expect("link");
    assert!(!emailed, "no Klaviyo: the merchant passes the link on");
    let token = url.split("token=").nth(1).expect("token").to_owned();
    let affiliate = app.browser();
    let path = format!("/portal/{}", shop.slug);
    let confirm = affiliate.client.get(&url).send().await.expect("confirm page");
    assert_eq!(confirm.status(), StatusCode::OK, "opening the link doesn't use it up");
    let login = affiliate
        .client
        .post(app.url(&format!("{path}/login")))
        .form(&[("token", &token)])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let page = affiliate.client.get(app.url(&path)).send().await.expect("portal").text().await.expect("html");
    assert!(page.contains("8.00 USD"), "the pending commission shows");
    assert!(page.contains(&format!("/r/{code}")));
    let saved = affiliate
        .client
        .post(app.url(&format!("{path}/payout")))
        .form(&[("payout_email", "ana.pay@example.com")])
        .send()
        .await
        .expect("payout");
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let bad = affiliate
        .client
        .post(app.url(&format!("{path}/payout")))
        .form(&[("payout_email", "nope")])
        .send()
        .await
        .expect("payout");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let again = app
        .browser()
        .client
        .post(app.url(&format!("{path}/login")))
        .form(&[("token", &token)])
        .send()
        .await
        .expect("reuse");
    assert_eq!(again.status(), StatusCode::GONE, "a link works once");
    let stranger = app.browser().client.get(app.url(&path)).send().await.expect("portal").text().await.expect("html");
    assert!(!stranger.contains("8.00 USD"));
    // No Klaviyo to carry a link: the page offers no form that would promise an email.
    assert!(stranger.contains("hands out sign-in links personally") && !stranger.contains("Email me a sign-in link"));
}

#[tokio::test]
async fn with_klaviyo_connected_a_sign_in_link_is_sent_as_an_event() {
    use crate::invites::{connected_merchant, events, klaviyo_account, wait_for_events};
    const KEY: &str = "pk_live_portalportalportalportal0001";
    let app = spawn_app().await;
    klaviyo_account(&app, "PORTAL1", KEY, "PLIST1");
    let (merchant, _, landing) = connected_merchant(&app, KEY, "PLIST1", true).await;
    let (status, _) = merchant.apply(&landing, &application("Ana Lima", "ana@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let settings: TrackingSettings = merchant.call("tracking_settings", json!({})).await.expect("settings");
    let portal = settings.portal_url.clone();
    let ask = |email: &'static str| {
        let request = app.browser().client.post(format!("{portal}/link")).form(&[("email", email)]);
        async move { request.send().await.expect("answered") }
    };
    let form = app.browser().client.get(&portal).send().await.expect("portal").text().await.expect("html");
    assert!(form.contains("emails you a sign-in link") && form.contains("Email me a sign-in link"), "{form}");
    let known = ask("ana@example.com").await;
    assert_eq!(known.status(), StatusCode::OK);
    let known = known.text().await.expect("html");
    let unknown = ask("nobody@example.com").await.text().await.expect("html");
    assert!(known.contains("is on its way") && unknown.contains("is on its way"), "the same answer either way");

    let sent = wait_for_events(&app, "PORTAL1", "Rekomi Affiliate Login Link", 1).await;
    let link = sent[0]["properties"]["login_url"].as_str().expect("login_url").to_owned();
    assert_eq!(sent[0]["profile"]["data"]["attributes"]["email"], "ana@example.com");
    assert!(link.starts_with(&format!("{portal}/login?token=")), "{link}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(events(&app, "PORTAL1", "Rekomi Affiliate Login Link").await.len(), 1, "none for a stranger");

    let token = link.split("token=").nth(1).expect("token");
    let affiliate = app.browser();
    let login = affiliate.client.post(format!("{portal}/login")).form(&[("token", token)]).send().await.expect("login");
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let page = affiliate.client.get(&portal).send().await.expect("portal").text().await.expect("html");
    assert!(page.contains("Hi Ana"));
}

#[tokio::test]
async fn a_disabled_affiliate_earns_nothing_new_sees_they_are_paused_and_their_pending_line_waits_for_enable() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (ana, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    webhook(&app, &shop, "orders/paid", &order(21, "80.00", &touch(&code, 0), "b@example.com"), SECRET).await;
    let before = earnings_of(&shop, ana).await;
    assert_eq!((before.conversions, before.commissions.len()), (1, 1));
    let decide = |decision: &'static str| {
        shop.merchant.call::<app::api::views::DecisionOutcome>(
            "decide_applications",
            json!({"ids": [ana], "decision": decision, "note": "Coupon on a deal site"}),
        )
    };
    assert_eq!(decide("disable").await.expect("disabled").changed.len(), 1);

    // The pending line is held for review, not voided.
    let held = earnings_of(&shop, ana).await;
    let line = &held.commissions[0];
    assert!(line.held_reason.as_deref().is_some_and(|r| r.contains("disabled")), "{line:?}");
    assert_eq!(held.earnings.pending, before.earnings.held, "nothing pending any more");
    // Their link no longer earns.
    webhook(&app, &shop, "orders/paid", &order(22, "50.00", &touch(&code, 0), "c@example.com"), SECRET).await;
    assert_eq!(
        earnings_of(&shop, ana).await.conversions,
        1,
        "an order through a disabled affiliate's link is not theirs"
    );

    // The portal still opens, and says they are paused.
    let (url, _): (String, bool) = shop.merchant.call("portal_link", json!({"id": ana})).await.expect("link");
    let token = url.split("token=").nth(1).expect("token").to_owned();
    let affiliate = app.browser();
    let path = format!("/portal/{}", shop.slug);
    let login = affiliate
        .client
        .post(app.url(&format!("{path}/login")))
        .form(&[("token", &token)])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let page = affiliate.client.get(app.url(&path)).send().await.expect("portal").text().await.expect("html");
    assert!(page.contains("paused your affiliate account"), "{page}");

    assert_eq!(decide("enable").await.expect("enabled").changed.len(), 1);
    let released = earnings_of(&shop, ana).await;
    assert_eq!(released.earnings.pending, before.earnings.pending, "the held line is pending again");
    assert_eq!(released.commissions[0].held_reason, None);
}

#[tokio::test]
async fn the_home_checklist_ticks_itself_and_its_figures_cover_the_chosen_period() {
    use app::api::views::Overview;
    let app = spawn_app().await;
    async fn home(b: &Browser, days: u32) -> Overview {
        b.call("home_overview", json!({ "days": days })).await.expect("home loads")
    }
    let fresh = app.merchant("New Shop").await;
    let first = home(&fresh, 30).await;
    let keys: Vec<&str> = first.steps.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["klaviyo", "list", "campaign", "shop", "share", "approval", "synced", "commission"]);
    assert!(first.steps.iter().all(|s| !s.done), "{:?}", first.steps);
    assert_eq!((first.clicks, first.orders, first.revenue.as_str(), first.landing_url), (0, 0, "0", None));
    let (status, refused) = fresh.call::<Overview>("home_overview", json!({"days": 12})).await.expect_err("no period");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.message.contains("12 isn't one of them"), "{}", refused.message);

    // A shop with its secret and an auto-approving campaign; Ana applies and an order 10 days
    // old comes in through her link.
    let shop = shop(&app, json!({})).await;
    let (_, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let now = now_ms();
    let ordered = server::store::outbox::rfc3339(now - 10 * 86_400_000);
    let body = json!({
        "id": 7001, "name": "#7001", "email": "buyer@example.com", "currency": "USD", "subtotal_price": "120.00",
        "note_attributes": [{"name": "rekomi_ref", "value": format!("{code}.{}", now - 11 * 86_400_000)}],
        "processed_at": ordered,
    });
    let (status, answer) = webhook(&app, &shop, "orders/paid", &body, SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let month = home(&shop.merchant, 30).await;
    let done: Vec<&str> = month.steps.iter().filter(|s| s.done).map(|s| s.key.as_str()).collect();
    assert_eq!(done, ["campaign", "shop", "share", "approval", "commission"], "Klaviyo isn't connected");
    assert!(month.landing_url.as_deref().is_some_and(|u| u.starts_with("http") && u.ends_with(&shop.landing)));
    assert_eq!((month.orders, month.revenue.as_str(), month.earned.as_str()), (1, "120.00 USD", "12.00 USD"));
    assert_eq!((month.paid.as_str(), month.owed.as_str(), month.waiting), ("0", "0", 0), "held 30 days");
    assert!(!month.sync.connected);
    // The order was placed 10 days ago: outside the last 7 days (its commission was earned today).
    let week = home(&shop.merchant, 7).await;
    assert_eq!((week.days, week.orders, week.revenue.as_str(), week.earned.as_str()), (7, 0, "0", "12.00 USD"));
    // Nobody else's home moved.
    assert_eq!(home(&fresh, 365).await.orders, 0);
}

#[tokio::test]
async fn the_directory_sorts_by_what_each_affiliate_brought_in_and_filters() {
    use app::api::views::DirectoryPage;
    async fn directory(b: &Browser, filter: Value) -> Vec<(String, i64, String, String)> {
        let page: DirectoryPage =
            b.call("affiliate_directory", json!({ "filter": filter })).await.expect("directory loads");
        assert_eq!(page.total, i64::try_from(page.rows.len()).expect("small"), "one page");
        page.rows.into_iter().map(|r| (r.affiliate.email, r.orders, r.revenue, r.earned)).collect()
    }
    let emails = |rows: &[(String, i64, String, String)]| rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (_, ana) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let (_, bo) = affiliate(&app, &shop, "Bo Berg", "bo@example.com").await;
    affiliate(&app, &shop, "Cy Park", "cy@example.com").await;
    let now = now_ms();
    for (id, code, subtotal) in [(8001, &ana, "40.00"), (8002, &ana, "10.00"), (8003, &bo, "90.00")] {
        let body = json!({
            "id": id, "name": format!("#{id}"), "email": "buyer@example.com", "currency": "USD",
            "subtotal_price": subtotal, "processed_at": server::store::outbox::rfc3339(now - 3_600_000),
            "note_attributes": [{"name": "rekomi_ref", "value": format!("{code}.{}", now - 7_200_000)}],
        });
        let (status, answer) = webhook(&app, &shop, "orders/paid", &body, SECRET).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    let newest = directory(&shop.merchant, json!({})).await;
    assert_eq!(emails(&newest), ["cy@example.com", "bo@example.com", "ana@example.com"]);
    let by_orders = directory(&shop.merchant, json!({"sort": "orders"})).await;
    assert_eq!(by_orders[0], ("ana@example.com".to_owned(), 2, "50.00 USD".to_owned(), "5.00 USD".to_owned()));
    assert_eq!(emails(&by_orders), ["ana@example.com", "bo@example.com", "cy@example.com"]);
    let by_revenue = directory(&shop.merchant, json!({"sort": "revenue"})).await;
    assert_eq!(emails(&by_revenue), ["bo@example.com", "ana@example.com", "cy@example.com"]);
    assert_eq!(by_revenue[2].2, "0.00 USD");
    let by_name = directory(&shop.merchant, json!({"sort": "name"})).await;
    assert_eq!(emails(&by_name), ["ana@example.com", "bo@example.com", "cy@example.com"]);

    assert_eq!(emails(&directory(&shop.merchant, json!({"search": bo.to_lowercase()})).await), ["bo@example.com"]);
    assert_eq!(emails(&directory(&shop.merchant, json!({"search": "LIMA"})).await), ["ana@example.com"]);
    assert!(directory(&shop.merchant, json!({"search": "%"})).await.is_empty(), "a wildcard is matched as itself");
    assert!(directory(&shop.merchant, json!({"state": "pending"})).await.is_empty());
    let (status, refused) = shop
        .merchant
        .call::<DirectoryPage>("affiliate_directory", json!({"filter": {"sort": "loudest"}}))
        .await
        .expect_err("unknown sort");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a bad request, not a crash");
    assert!(refused.message.contains("not understood") && refused.message.contains("loudest"), "{refused:?}");
    let stranger = app.merchant("Other Shop").await;
    assert!(directory(&stranger, json!({})).await.is_empty(), "another merchant sees none of them");
}

#[tokio::test]
async fn results_cover_a_chosen_range_with_breakdowns_and_the_same_rows_as_csv() {
    async fn report(b: &Browser, filter: Value) -> Result<ReportView, (StatusCode, app::error::AppError)> {
        b.call("earnings_report", json!({ "filter": filter })).await
    }
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (_, code) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let now = now_ms();
    let body = json!({
        "id": 9001, "name": "#9001", "email": "buyer@example.com", "currency": "USD", "subtotal_price": "80.00",
        "note_attributes": [{"name": "rekomi_ref", "value": format!("{code}.{}", now - 11 * 86_400_000)}],
        "processed_at": server::store::outbox::rfc3339(now - 10 * 86_400_000),
    });
    let (status, answer) = webhook(&app, &shop, "orders/paid", &body, SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let month = report(&shop.merchant, json!({})).await.expect("the last 30 days");
    assert_eq!((month.days.len(), month.conversions), (30, 1));
    assert_eq!(month.commission_totals, ["8.00 USD"]);
    assert_eq!((month.by_affiliate[0].name.as_str(), month.by_affiliate[0].conversions), ("Ana Lima", 1));
    let week = report(&shop.merchant, json!({"days": 7})).await.expect("a week");
    assert_eq!((week.days.len(), week.conversions), (7, 0), "the order was placed 10 days ago");
    let day = |ago: i64| server::store::outbox::rfc3339(now - ago * 86_400_000)[..10].to_owned();
    let range = report(&shop.merchant, json!({"from": day(12), "to": day(8)})).await.expect("a range");
    assert_eq!((range.from.clone(), range.to.clone(), range.days.len(), range.conversions), (day(12), day(8), 5, 1));
    assert_eq!(range.by_campaign.len(), 1);

    let (status, backwards) =
        report(&shop.merchant, json!({"from": day(1), "to": day(5)})).await.expect_err("backwards");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(backwards.fields.get("to"), Some("The range ends before it starts."));
    let (_, too_long) =
        report(&shop.merchant, json!({"from": "2024-01-01", "to": "2026-01-01"})).await.expect_err("long");
    assert!(too_long.fields.get("from").is_some_and(|m| m.contains("366")), "{too_long:?}");
    let (_, not_a_date) = report(&shop.merchant, json!({"from": "last week"})).await.expect_err("bad date");
    assert!(not_a_date.fields.get("from").is_some_and(|m| m.contains("2026-11-01")), "{not_a_date:?}");

    // The CSV holds the rows the page shows for the same filter.
    let jar = &shop.merchant.client;
    let csv = |query: &str| jar.get(app.url(&format!("/api/exports/results.csv?{query}"))).send();
    let affiliates = csv(&format!("breakdown=affiliate&from={}&to={}", day(12), day(8))).await.expect("csv");
    assert_eq!(affiliates.status(), StatusCode::OK);
    let text = affiliates.text().await.expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,name,clicks,conversions,pending,approved,paid,held");
    // The order is in the range; its commission was earned today, outside it.
    assert!(lines.len() == 2 && lines[1].ends_with(",Ana Lima,0,1,0,0,0,0"), "{text}");
    let today = csv(&format!("breakdown=campaign&from={}&to={}", day(0), day(0))).await.expect("csv");
    let today = today.text().await.expect("text");
    assert!(today.lines().nth(1).is_some_and(|l| l.ends_with(",0,0,8.00 USD,0,0,0")), "{today}");
    let days = csv("breakdown=day&days=7").await.expect("csv").text().await.expect("text");
    assert_eq!(days.lines().count(), 8, "a header and seven days: {days}");
    assert!(days.starts_with("day,clicks,conversions,commission_usd"), "{days}");
    let bad = csv("breakdown=weekly").await.expect("answered");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = reqwest::get(app.url("/api/exports/results.csv?breakdown=day")).await.expect("answered");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_well_formed_codes_are_remembered_and_a_change_forgets_only_its_own_code() {
    let app = spawn_app().await;
    let shop = shop(&app, json!({})).await;
    let (_, ana) = affiliate(&app, &shop, "Ana Lima", "ana@example.com").await;
    let (bo_id, bo) = affiliate(&app, &shop, "Bo Berg", "bo@example.com").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let visit = |code: String| {
        let client = client.clone();
        let url = app.url(&format!("/r/{code}"));
        async move { client.get(url).header("user-agent", BROWSER_UA).send().await.expect("answer").status() }
    };
    let tracker = &app.services.tracker;
    let before = tracker.cached();
    // Made-up paths: too long, or with characters no code has. Not looked up, not remembered.
    for n in 0..50 {
        assert_eq!(visit(format!("{}{n}", "x".repeat(300))).await, StatusCode::NOT_FOUND);
        assert_eq!(visit(format!("bad%20code{n}")).await, StatusCode::NOT_FOUND);
    }
    assert_eq!(tracker.cached(), before, "nothing remembered for malformed codes");

    // Both codes resolve and are remembered; a decision about Bo forgets Bo's code only.
    assert_eq!(visit(ana.clone()).await, StatusCode::FOUND);
    assert_eq!(visit(bo.clone()).await, StatusCode::FOUND);
    assert!(tracker.is_cached(&ana) && tracker.is_cached(&bo));
    shop.merchant
        .call::<Value>("decide_applications", json!({"ids": [bo_id], "decision": "disable", "note": null}))
        .await
        .expect("disabled");
    assert!(tracker.is_cached(&ana), "an unrelated code stays in memory");
    assert!(!tracker.is_cached(&bo), "the changed code is forgotten at once");
}
