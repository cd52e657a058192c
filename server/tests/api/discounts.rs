//! A discount code per affiliate in the connected Shopify store: made on approval and read back,
//! the next candidate when Shopify refuses one, taken out and put back with the affiliate, bulk
//! codes for affiliates approved before, orders placed in the fake shop delivered by its signed
//! webhooks, and the custom pixel linking an order to a click.

use crate::helpers::{application, campaign_form, spawn_app, Browser, TestApp};
use app::api::views::{DiscountSettings, ShopConnectResult};
use fakes::shopify::{full_scopes, AppSpec, ShopSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const SHOP: &str = "peak-supply.myshopify.com";

struct Setup {
    merchant: Browser,
    campaign: i64,
    landing: String,
    slug: String,
}

/// A merchant with its shop connected and an auto-approving campaign (10 % commission).
async fn setup(app: &TestApp) -> Setup {
    app.shopify.add_shop(ShopSpec {
        domain: SHOP.into(),
        name: "Peak Supply".into(),
        currency: "USD".into(),
        apps: vec![AppSpec {
            client_id: "peak-app".into(),
            client_secret: "shpss_peak".into(),
            scopes: full_scopes(),
            installed: true,
        }],
    });
    let merchant = app.merchant("Peak Supply").await;
    let campaign = merchant
        .create_campaign(campaign_form(json!({ "auto_approve": true, "hold_days": "0" })))
        .await
        .expect("campaign");
    let form = json!({ "form": { "shop_domain": SHOP, "client_id": "peak-app", "client_secret": "shpss_peak" } });
    let page = match merchant.call::<ShopConnectResult>("connect_shop", form).await.expect("connect") {
        ShopConnectResult::Connected(page) => page,
        ShopConnectResult::Refused(f) => panic!("refused: {f:?}"),
    };
    let slug = page.webhook_address.rsplit('/').next().expect("slug").to_owned();
    Setup { merchant, campaign: campaign.id.get(), landing: campaign.landing_path, slug }
}

fn terms(overrides: Value) -> Value {
    let mut form = json!({
        "enabled": true, "kind": "percent", "value": "15", "once_per_customer": true, "min_subtotal": "",
        "combines_order": false, "combines_product": false, "combines_shipping": true, "ends_on": "",
        "pattern": "{code}15",
    });
    if let (Some(f), Some(o)) = (form.as_object_mut(), overrides.as_object()) {
        f.extend(o.clone());
    }
    form
}

async fn save_terms(s: &Setup, form: Value) -> Result<DiscountSettings, (StatusCode, app::error::AppError)> {
    s.merchant.call("save_campaign_discount", json!({ "id": s.campaign, "form": form })).await
}

async fn settings(s: &Setup) -> DiscountSettings {
    s.merchant.call("campaign_discount", json!({ "id": s.campaign })).await.expect("settings")
}

/// Waits until no code is on its way.
async fn settled(s: &Setup) -> DiscountSettings {
    for _ in 0..200 {
        let now = settings(s).await;
        if now.progress.queued == 0 {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("codes still on their way: {:?}", settings(s).await.progress);
}

async fn fake(app: &TestApp, path: &str) -> Value {
    reqwest::get(format!("{}/_fake/shopify/shops/{SHOP}{path}", app.shopify_base))
        .await
        .expect("fake")
        .json()
        .await
        .expect("json")
}

async fn fake_post(app: &TestApp, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/_fake/shopify/shops/{SHOP}{path}", app.shopify_base))
        .json(&body)
        .send()
        .await
        .expect("fake")
        .json()
        .await
        .expect("json")
}

/// The codes of Rekomi's discount in the fake shop.
async fn shop_codes(app: &TestApp) -> Vec<String> {
    let shop = fake(app, "").await;
    let mut codes: Vec<String> = shop["discounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["app"] == json!("peak-app"))
        .flat_map(|d| d["codes"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    codes.sort();
    codes
}

async fn approved(app: &TestApp, s: &Setup, name: &str, email: &str) -> (i64, String) {
    let (status, _) = s.merchant.apply(&s.landing, &application(name, email)).await;
    assert_eq!(status, StatusCode::OK);
    let a = s.merchant.find(email).await;
    let _ = app;
    (a.id.get(), a.referral_code.expect("approved affiliates have a code"))
}

#[tokio::test]
async fn an_approved_affiliate_gets_a_code_in_shopify_refused_codes_move_on_and_codes_follow_the_affiliate() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    // Bad terms are named on their fields; nothing is saved.
    let (status, e) = save_terms(&s, terms(json!({ "value": "150", "ends_on": "2020-01-01", "pattern": "SAVE" })))
        .await
        .expect_err("refused");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["value", "ends_on", "pattern"] {
        assert!(e.fields.get(field).is_some(), "{field}: {e:?}");
    }
    assert!(!settings(&s).await.saved);

    // Ana and Bob are approved before the campaign has a discount; then someone makes a code in the
    // Shopify admin that Ana's pattern would give.
    let (_, ana_code) = approved(&app, &s, "Ana Lima", "ana@example.com").await;
    let (_, bob_code) = approved(&app, &s, "Bob Stone", "bob@example.com").await;
    let taken = format!("{}15", ana_code.to_uppercase());
    fake_post(&app, "/discounts", json!({ "title": "Staff", "codes": [taken.clone()] })).await;

    let saved = save_terms(&s, terms(json!({ "min_subtotal": "40" }))).await.expect("saved");
    assert_eq!(saved.summary.as_deref(), Some("15 % off · once per customer · on orders of 40.00 USD or more"));
    let now = settled(&s).await;
    assert_eq!(now.progress.active, 2, "{:?}", now.progress);
    assert!(now.in_shopify);
    let codes = shop_codes(&app).await;
    let bob_expected = format!("{}15", bob_code.to_uppercase());
    assert!(codes.contains(&bob_expected), "{codes:?}");
    assert!(codes.contains(&format!("{taken}-2")), "Ana got the next candidate: {codes:?}");
    assert!(!codes.contains(&taken), "{codes:?}");

    // The discount in Shopify carries the terms.
    let shop = fake(&app, "").await;
    let discount = shop["discounts"]
        .as_array()
        .and_then(|l| l.iter().find(|d| d["app"] == json!("peak-app")))
        .cloned()
        .expect("made");
    assert_eq!(discount["title"], json!("Rekomi · Spring Partners"));
    assert_eq!(discount["input"]["customerGets"]["value"]["percentage"], json!(0.15));
    assert_eq!(discount["input"]["minimumRequirement"]["subtotal"]["greaterThanOrEqualToSubtotal"], json!("40.00"));
    assert_eq!(discount["input"]["appliesOncePerCustomer"], json!(true));

    // A disabled affiliate's code leaves the shop, and comes back with them.
    let bob = s.merchant.find("bob@example.com").await;
    s.merchant.decide(&[bob.id], "disable").await.expect("disabled");
    settled(&s).await;
    assert!(!shop_codes(&app).await.contains(&bob_expected));
    s.merchant.decide(&[bob.id], "enable").await.expect("enabled");
    settled(&s).await;
    assert!(shop_codes(&app).await.contains(&bob_expected));

    // The code works as the affiliate's coupon: an order placed with it in the shop is theirs.
    let placed = fake_post(
        &app,
        "/orders",
        json!({ "subtotal": "80.00", "discount_codes": [bob_expected], "email": "buyer@example.com" }),
    )
    .await;
    assert_eq!(placed["deliveries"], json!(1), "orders/paid is subscribed: {placed}");
    let earnings = wait_for_conversion(&s, bob.id.get()).await;
    assert_eq!(earnings, 1);
    // New terms are one update of the campaign's discount.
    save_terms(&s, terms(json!({ "value": "20" }))).await.expect("saved");
    let now = settled(&s).await;
    assert!(now.in_shopify, "{now:?}");
    let shop = fake(&app, "").await;
    let discount = shop["discounts"]
        .as_array()
        .and_then(|l| l.iter().find(|d| d["app"] == json!("peak-app")))
        .cloned()
        .expect("made");
    assert_eq!(discount["input"]["customerGets"]["value"]["percentage"], json!(0.2));
    assert_eq!(
        shop["discounts"].as_array().map(|l| l.iter().filter(|d| d["app"] == json!("peak-app")).count()),
        Some(1)
    );
}

/// Waits for the affiliate's conversions to reach `n` (webhooks arrive in the background).
async fn wait_for_conversion(s: &Setup, affiliate: i64) -> i64 {
    for _ in 0..100 {
        let e: app::api::views::AffiliateEarnings =
            s.merchant.call("affiliate_earnings", json!({ "id": affiliate })).await.expect("earnings");
        if e.conversions > 0 {
            return e.conversions;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    0
}

#[tokio::test]
async fn affiliates_approved_before_the_discount_get_codes_in_bulk() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    for n in 0..30 {
        approved(&app, &s, &format!("Person {n}"), &format!("p{n}@example.com")).await;
    }
    // Without terms nothing is queued; saving them queues every approved affiliate.
    assert_eq!(settings(&s).await.progress.active, 0);
    save_terms(&s, terms(json!({ "pattern": "{code}" }))).await.expect("saved");
    let now = settled(&s).await;
    assert_eq!(now.progress.active, 30, "{:?}", now.progress);
    assert_eq!(now.progress.approved_without, 0);
    assert_eq!(shop_codes(&app).await.len(), 30);
    // Make codes now is a no-op when every affiliate has one.
    let again: DiscountSettings =
        s.merchant.call("make_discount_codes", json!({ "id": s.campaign })).await.expect("made");
    let _ = again;
    assert_eq!(settled(&s).await.progress.active, 30);
    assert_eq!(shop_codes(&app).await.len(), 30);
}

#[tokio::test]
async fn the_pixel_links_an_order_to_a_click_whichever_arrives_first_and_only_for_its_checkout() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (ana, code) = approved(&app, &s, "Ana Lima", "ana@example.com").await;
    let pixel = |body: Value| {
        let url = app.url(&format!("/pixel/{}", s.slug));
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("content-type", "text/plain")
                .body(body.to_string())
                .send()
                .await
                .expect("pixel");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let touches = format!("{code}.{}", server::store::now_ms() - 60_000);
    // Report first, then the order.
    let (status, body) = pixel(
        json!({ "order_id": "gid://shopify/Order/5800000000001", "checkout_token": "tok-1", "touches": touches }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    fake_post(&app, "/orders", json!({ "subtotal": "50.00", "checkout_token": "tok-1", "email": "c1@example.com" }))
        .await;
    assert_eq!(wait_for_conversion(&s, ana).await, 1);

    // The order first (nobody credited), then the report: credited when the report arrives.
    fake_post(&app, "/orders", json!({ "subtotal": "70.00", "checkout_token": "tok-2", "email": "c2@example.com" }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) =
        pixel(json!({ "order_id": 5800000000002_u64, "checkout_token": "tok-2", "touches": touches })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["conversion"]["via"], json!("link"), "{body}");

    // A report naming another checkout's token credits nothing; a second report changes nothing.
    fake_post(&app, "/orders", json!({ "subtotal": "90.00", "checkout_token": "tok-3" })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) =
        pixel(json!({ "order_id": 5800000000003_u64, "checkout_token": "guessed", "touches": touches })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) =
        pixel(json!({ "order_id": 5800000000003_u64, "checkout_token": "tok-3", "touches": touches })).await;
    assert_eq!((status, body["duplicate"].clone()), (StatusCode::OK, json!(true)));
    let e: app::api::views::AffiliateEarnings =
        s.merchant.call("affiliate_earnings", json!({ "id": ana })).await.expect("earnings");
    assert_eq!(e.conversions, 2);

    // Bad reports are named.
    let (status, body) = pixel(json!({ "order_id": "x", "checkout_token": "t", "touches": touches })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap_or_default().contains("order_id"), "{body}");
    let (status, _) = pixel(json!({ "order_id": 1, "checkout_token": "t", "touches": "" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_fake_shop_retries_a_delivery_that_failed_and_rekomi_records_it_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (ana, code) = approved(&app, &s, "Ana Lima", "ana@example.com").await;
    reqwest::Client::new()
        .put(format!("{}/_fake/shopify/faults", app.shopify_base))
        .json(&json!({ "fail_first_deliveries": 2, "retry_delays_ms": [50, 50, 50] }))
        .send()
        .await
        .expect("faults");
    let landing = format!("/?ref={code}");
    fake_post(&app, "/orders", json!({ "subtotal": "60.00", "landing_site": landing })).await;
    assert_eq!(wait_for_conversion(&s, ana).await, 1);
    let deliveries = fake(&app, "/deliveries").await;
    let d = &deliveries[0];
    assert_eq!((d["attempts"].clone(), d["delivered"].clone()), (json!(3), json!(true)), "{deliveries}");
}

#[tokio::test]
async fn a_run_paid_as_store_credit_credits_each_affiliate_once_even_when_an_answer_is_lost() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (ana, code) = approved(&app, &s, "Ana Lima", "ana@example.com").await;
    let (bob, bob_code) = approved(&app, &s, "Bob Stone", "bob@example.com").await;
    for (n, c) in [(1, &code), (2, &bob_code)] {
        let landing = format!("/?ref={c}");
        fake_post(&app, "/orders", json!({ "subtotal": format!("{}0.00", n * 10), "landing_site": landing })).await;
    }
    assert_eq!(wait_for_conversion(&s, ana).await, 1);
    assert_eq!(wait_for_conversion(&s, bob).await, 1);
    let run: app::api::views::RunView = s.merchant.call("create_payout_run", json!({})).await.expect("run");
    assert_eq!(run.store_credit_shop.as_deref(), Some(SHOP));
    // The first credit is applied in Shopify but its answer is lost on the way back.
    reqwest::Client::new()
        .put(format!("{}/_fake/shopify/faults", app.shopify_base))
        .json(&json!({ "lose_credit_answers": 1 }))
        .send()
        .await
        .expect("faults");
    let sent: app::api::views::RunView =
        s.merchant.call("pay_run_store_credit", json!({ "id": run.id })).await.expect("sent");
    assert!(sent.credits_queued > 0 || sent.state == app::domain::PayoutState::Paid);
    // Cancelling now would pay the lines again later: refused.
    let mut paid = None;
    for _ in 0..200 {
        let page: app::api::views::PayoutsPage = s.merchant.call("payouts", json!({})).await.expect("page");
        let now = page.runs.into_iter().find(|r| r.id == run.id).expect("the run");
        if now.state == app::domain::PayoutState::Paid {
            paid = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(paid) = paid else {
        let page: app::api::views::PayoutsPage = s.merchant.call("payouts", json!({})).await.expect("page");
        panic!("the run is paid once every credit landed: {:?} / {}", page.runs, fake(&app, "").await["customers"]);
    };
    assert_eq!(paid.reference.as_deref(), Some("Shopify store credit"));
    assert!(paid.payouts.iter().all(|p| p.credit.as_deref() == Some("credited")), "{:?}", paid.payouts);
    let customers = fake(&app, "").await["customers"].clone();
    let credits: Vec<(String, usize, String)> = customers
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let list = c["credits"].as_array().cloned().unwrap_or_default();
            let first = list.first().map(|t| t["amount"].as_str().unwrap_or_default().to_owned()).unwrap_or_default();
            (c["email"].as_str().unwrap_or_default().to_owned(), list.len(), first)
        })
        .collect();
    let mut credits = credits;
    credits.sort();
    assert_eq!(
        credits,
        vec![("ana@example.com".into(), 1, "10.00".into()), ("bob@example.com".into(), 1, "20.00".into())],
        "each affiliate credited once, the lost answer included"
    );
    let (status, e) = s
        .merchant
        .call::<app::api::views::RunView>("cancel_payout_run", json!({ "id": run.id }))
        .await
        .expect_err("paid");
    assert_eq!(status, StatusCode::CONFLICT, "{e:?}");
}

#[tokio::test]
async fn a_run_in_another_currency_than_the_shop_is_not_offered_as_store_credit() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let merchant = &s.merchant;
    let eur = merchant
        .create_campaign(campaign_form(
            json!({ "name": "Euro friends", "currency": "EUR", "auto_approve": true, "hold_days": "0" }),
        ))
        .await
        .expect("campaign");
    let (status, _) = merchant.apply(&eur.landing_path, &application("Eva Roth", "eva@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let eva = merchant.find("eva@example.com").await;
    let landing = format!("/?ref={}", eva.referral_code.expect("code"));
    fake_post(&app, "/orders", json!({ "subtotal": "40.00", "currency": "EUR", "landing_site": landing })).await;
    assert_eq!(wait_for_conversion(&s, eva.id.get()).await, 1);
    let run: app::api::views::RunView = merchant.call("create_payout_run", json!({})).await.expect("run");
    assert_eq!(run.store_credit_shop, None);
    let (status, e) = merchant
        .call::<app::api::views::RunView>("pay_run_store_credit", json!({ "id": run.id }))
        .await
        .expect_err("refused");
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(e.message.contains("shop's currency (USD)"), "{}", e.message);
}

#[tokio::test]
async fn orders_and_refunds_no_webhook_brought_are_recovered_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (ana, code) = approved(&app, &s, "Ana Lima", "ana@example.com").await;
    let merchant = server::store::shop::owner_of(&app.db, SHOP).await.expect("db").expect("connected");
    let faults = |body: Value| {
        let url = format!("{}/_fake/shopify/faults", app.shopify_base);
        async move { reqwest::Client::new().put(url).json(&body).send().await.expect("faults") }
    };
    // Shopify drops the deliveries: nothing reaches Rekomi. (No cost bucket: each read of a page
    // of orders may cost ~930 points, and this test is about what is read, not the waiting.)
    faults(json!({ "drop_deliveries": true, "no_throttle": true })).await;
    let landing = format!("/products/tent?ref={code}");
    let order =
        fake_post(&app, "/orders", json!({ "subtotal": "80.00", "landing_site": landing, "email": "c@example.com" }))
            .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let earnings = |id: i64| {
        let merchant = &s.merchant;
        async move {
            let e: app::api::views::AffiliateEarnings =
                merchant.call("affiliate_earnings", json!({ "id": id })).await.expect("earnings");
            e
        }
    };
    assert_eq!(earnings(ana).await.conversions, 0);

    // The periodic read finds it.
    let found = app.services.recovery().pass(merchant).await.expect("read");
    assert_eq!((found.orders, found.refunds), (1, 0), "{found:?}");
    let e = earnings(ana).await;
    assert_eq!((e.conversions, e.earnings.pending.as_str()), (1, "8.00 USD"));

    // A refund that no webhook brought, recovered by the merchant's "Recover orders".
    fake_post(&app, &format!("/orders/{}/refunds", order["id"]), json!({ "amount": "40.00" })).await;
    let found: app::api::views::OrdersRecovered =
        s.merchant.call("recover_shop_orders", json!({ "days": 1 })).await.expect("recovered");
    assert_eq!((found.orders, found.refunds), (0, 1), "{found:?}");
    assert_eq!(earnings(ana).await.earnings.pending, "4.00 USD");

    // Reading again changes nothing; an order the webhook brought isn't counted twice.
    faults(json!({ "no_throttle": true })).await;
    let landing = format!("/?ref={code}");
    fake_post(&app, "/orders", json!({ "subtotal": "20.00", "landing_site": landing })).await;
    for _ in 0..100 {
        if earnings(ana).await.conversions == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let found = app.services.recovery().pass(merchant).await.expect("read");
    assert_eq!((found.orders, found.refunds), (0, 0), "{found:?}");
    let e = earnings(ana).await;
    assert_eq!((e.conversions, e.earnings.pending.as_str()), (2, "6.00 USD"));
    let page: app::api::views::ShopPage = s.merchant.call("shop_page", json!({})).await.expect("page");
    assert_eq!(page.connection.expect("connected").orders_recovered, 2);
}
