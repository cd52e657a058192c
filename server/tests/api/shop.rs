//! The shop as a connected app: a live check that names each problem, webhooks made in the shop,
//! deliveries counted and deduplicated, tokens renewed, uninstall and disconnect.

use crate::helpers::{spawn_app, Browser, TestApp};
use app::api::views::{SessionView, ShopConnectResult, ShopPage};
use fakes::shopify::{full_scopes, AppSpec, ShopSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SHOP: &str = "trail-gear.myshopify.com";

fn seed(app: &TestApp) {
    let no_discounts: Vec<String> = full_scopes().into_iter().filter(|s| s != "write_discounts").collect();
    let app_spec = |id: &str, secret: &str, scopes: Vec<String>, installed: bool| AppSpec {
        client_id: id.into(),
        client_secret: secret.into(),
        scopes,
        installed,
    };
    app.shopify.add_shop(ShopSpec {
        domain: SHOP.into(),
        name: "Trail Gear".into(),
        currency: "EUR".into(),
        apps: vec![
            app_spec("full-app", "shpss_full", full_scopes(), true),
            app_spec("narrow-app", "shpss_narrow", no_discounts, true),
            app_spec("absent-app", "shpss_absent", full_scopes(), false),
        ],
    });
}

/// Connects; Shopify's live-check refusals (an answer, not an error) come back as a 422 here so the
/// assertions read the same as for any other refused form.
async fn connect(
    merchant: &Browser,
    shop: &str,
    id: &str,
    secret: &str,
) -> Result<ShopPage, (StatusCode, app::error::AppError)> {
    let form = json!({ "form": { "shop_domain": shop, "client_id": id, "client_secret": secret } });
    match merchant.call::<ShopConnectResult>("connect_shop", form).await? {
        ShopConnectResult::Connected(page) => Ok(page),
        ShopConnectResult::Refused(fields) => {
            Err((StatusCode::UNPROCESSABLE_ENTITY, app::error::AppError::invalid(fields)))
        }
    }
}

async fn fake_shop(app: &TestApp) -> Value {
    reqwest::get(format!("{}/_fake/shopify/shops/{SHOP}", app.shopify_base))
        .await
        .expect("fake")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn connecting_a_shop_names_each_problem_then_subscribes_its_webhooks() {
    let app = spawn_app().await;
    seed(&app);
    let merchant = app.merchant("Trail Gear").await;
    let page: ShopPage = merchant.call("shop_page", json!({})).await.expect("page");
    assert!(page.connection.is_none());
    assert!(page.webhook_address.ends_with("/webhooks/shopify/trail-gear"), "{}", page.webhook_address);
    assert_eq!(page.required_scopes.len(), 6);

    let refused = |field: &'static str| {
        move |r: Result<ShopPage, (StatusCode, app::error::AppError)>| {
            let (status, e) = r.expect_err("refused");
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
            e.fields.get(field).unwrap_or_else(|| panic!("no {field} error: {e:?}")).to_owned()
        }
    };
    let m = refused("shop_domain")(connect(&merchant, "trail-gear.example.com", "full-app", "shpss_full").await);
    assert!(m.contains("not a myshopify.com address"), "{m}");
    let m = refused("shop_domain")(connect(&merchant, "nobody-here", "full-app", "shpss_full").await);
    assert!(m.contains("No Shopify store answers at nobody-here.myshopify.com"), "{m}");
    let m = refused("client_secret")(connect(&merchant, SHOP, "full-app", "wrong").await);
    assert!(m.contains("refused this client ID and secret"), "{m}");
    let m = refused("client_id")(connect(&merchant, SHOP, "absent-app", "shpss_absent").await);
    assert!(m.contains("isn't installed on trail-gear.myshopify.com"), "{m}");
    let m = refused("scopes")(
        connect(&merchant, "https://admin.shopify.com/store/trail-gear", "narrow-app", "shpss_narrow").await,
    );
    assert!(m.contains("write_discounts (a discount code for each affiliate)"), "{m}");
    assert!(!m.contains("read_orders"), "only what is missing is named: {m}");
    let page: ShopPage = merchant.call("shop_page", json!({})).await.expect("page");
    assert!(page.connection.is_none(), "nothing saved by a failed check");

    let page = connect(&merchant, "Trail-Gear", "full-app", "shpss_full").await.expect("connected");
    let connection = page.connection.expect("a connection");
    assert_eq!((connection.shop_name.as_str(), connection.currency.as_str()), ("Trail Gear", "EUR"));
    assert_eq!(connection.plan, "Basic");
    assert!(connection.installed);
    let topics: Vec<(&str, bool)> = connection.webhooks.iter().map(|w| (w.topic.as_str(), w.subscribed)).collect();
    assert_eq!(
        topics,
        vec![("orders/paid", true), ("refunds/create", true), ("orders/cancelled", true), ("app/uninstalled", true)]
    );
    let hooks = fake_shop(&app).await["webhooks"].as_array().cloned().unwrap_or_default();
    assert_eq!(hooks.len(), 4, "{hooks:?}");
    assert!(hooks.iter().all(|h| h["uri"] == json!(page.webhook_address)));

    // Connecting again finds the subscriptions and makes no second set.
    connect(&merchant, SHOP, "full-app", "shpss_full").await.expect("reconnected");
    assert_eq!(fake_shop(&app).await["webhooks"].as_array().map(Vec::len), Some(4));

    // The shop can't be taken by another account.
    let other = app.merchant("Copy Cat").await;
    let m = refused("shop_domain")(connect(&other, SHOP, "full-app", "shpss_full").await);
    assert!(m.contains("connected to another Rekomi account"), "{m}");

    // Deliveries are signed with the app's secret, counted per topic, and a repeat is not redone.
    let deliver = |topic: &'static str, id: &'static str, secret: &'static str| {
        let body = br#"{"id": 1}"#.to_vec();
        let signature = server::services::shopify::sign(secret, &body);
        reqwest::Client::new()
            .post(app.url("/webhooks/shopify/trail-gear"))
            .header("X-Shopify-Topic", topic)
            .header("X-Shopify-Hmac-Sha256", signature)
            .header("X-Shopify-Webhook-Id", id)
            .header("X-Shopify-Shop-Domain", SHOP)
            .body(body)
            .send()
    };
    let first: Value =
        deliver("orders/cancelled", "w-1", "shpss_full").await.expect("sent").json().await.expect("json");
    assert_eq!(first["ignored"], "orders/cancelled");
    let again: Value =
        deliver("orders/cancelled", "w-1", "shpss_full").await.expect("sent").json().await.expect("json");
    assert_eq!(again["duplicate"], true);
    let forged = deliver("orders/cancelled", "w-2", "not-the-secret").await.expect("sent");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let page: ShopPage = merchant.call("shop_page", json!({})).await.expect("page");
    let cancelled = page.connection.expect("connected").webhooks.into_iter().find(|w| w.topic == "orders/cancelled");
    let cancelled = cancelled.expect("topic");
    assert_eq!(cancelled.received, 1);
    assert!(cancelled.last_received.is_some());

    // Uninstalled in Shopify: shown, and nothing more is called.
    deliver("app/uninstalled", "w-3", "shpss_full").await.expect("sent");
    let page: ShopPage = merchant.call("shop_page", json!({})).await.expect("page");
    assert!(!page.connection.expect("kept").installed);

    // Disconnect forgets the credentials; a fresh connect works again.
    let page: ShopPage = merchant.call("disconnect_shop", json!({})).await.expect("disconnected");
    assert!(page.connection.is_none());
    connect(&merchant, SHOP, "full-app", "shpss_full").await.expect("connected again");
}

#[tokio::test]
async fn a_token_close_to_expiry_is_renewed_and_a_revoked_app_shows_as_uninstalled() {
    let app = spawn_app().await;
    seed(&app);
    let faults = |body: Value| {
        reqwest::Client::new().put(format!("{}/_fake/shopify/faults", app.shopify_base)).json(&body).send()
    };
    let merchant = app.merchant("Trail Gear").await;
    connect(&merchant, SHOP, "full-app", "shpss_full").await.expect("connected");
    let session: Option<SessionView> = merchant.call("current_session", json!({})).await.expect("session");
    let id = session.expect("signed in").merchant_id;
    let issued = || async { fake_shop(&app).await["tokens_issued"].as_u64().unwrap_or(0) };

    // A day-long token is used until it nears expiry.
    let before = issued().await;
    let (_, long) = app.services.shop.token(id).await.expect("a token");
    let (_, same) = app.services.shop.token(id).await.expect("a token");
    assert_eq!(long, same);
    assert_eq!(issued().await, before);

    // Tokens that live a minute are inside the ten-minute margin, so each use renews.
    faults(json!({ "token_ttl_secs": 60 })).await.expect("faults");
    connect(&merchant, SHOP, "full-app", "shpss_full").await.expect("reconnected");
    let before = issued().await;
    let (_, first) = app.services.shop.token(id).await.expect("a token");
    let (_, second) = app.services.shop.token(id).await.expect("a token");
    assert_ne!(first, second, "renewed");
    assert_eq!(issued().await, before + 2);

    // The app uninstalled in Shopify: the renewal is refused and the connection shows it.
    reqwest::Client::new()
        .put(format!("{}/_fake/shopify/shops/{SHOP}/apps/full-app", app.shopify_base))
        .json(&json!({ "installed": false }))
        .send()
        .await
        .expect("uninstall");
    let refused = app.services.shop.token(id).await.expect_err("refused");
    assert!(matches!(refused, server::services::shop::ShopError::Uninstalled), "{refused:?}");
    let page: ShopPage = merchant.call("shop_page", json!({})).await.expect("page");
    assert!(!page.connection.expect("kept").installed);
}
