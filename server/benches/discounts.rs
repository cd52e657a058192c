//! `cargo bench -p server --bench discounts`: a discount code in Shopify for each of 10,000
//! existing affiliates (`BENCH_AFFILIATES`), against the fake Shopify with its standard cost bucket
//! (1,000 points, 50 a second) and every document validated against Shopify's schema.
//!
//! The affiliates are approved before the campaign has a discount; saving its terms queues them all.
//! Measured: the time until every code is in the fake shop and read back as active by Rekomi, the
//! calls by operation, the points spent and the times Shopify said `THROTTLED`.
//!
//! Engine: SQLite unless TEST_DATABASE_URL names a PostgreSQL server.

#[path = "../tests/common/seed.rs"]
mod seed;

use app::domain::discount::DiscountForm;
use fakes::shopify::{full_scopes, AppSpec, ShopSpec};
use server::startup::Application;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SHOP: &str = "bench-outdoor.myshopify.com";

#[tokio::main]
async fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n: usize =
        if smoke { 300 } else { std::env::var("BENCH_AFFILIATES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000) };
    let klaviyo = fakes::klaviyo::Fake::default()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds"))
        .expect("fake Klaviyo");
    let shopify = fakes::shopify::Fake::default()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds"))
        .expect("fake Shopify");
    shopify.fake.add_shop(ShopSpec {
        domain: SHOP.into(),
        name: "Bench Outdoor".into(),
        currency: "USD".into(),
        apps: vec![AppSpec {
            client_id: "bench-app".into(),
            client_secret: "shpss_bench".into(),
            scopes: full_scopes(),
            installed: true,
        }],
    });
    let database_url = seed::fresh_database("discounts").await;
    let engine = if database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let mut config = seed::config(database_url, &klaviyo.base_url, server::outbox::Settings::default());
    config.shopify_api_base = Some(shopify.base_url.clone());
    let app = Application::build(config).await.expect("builds");
    let services = app.services().clone();
    let seeded = seed::seed(&services, &klaviyo.fake, n).await;
    let merchant = seeded.merchant;
    let now = server::store::now_ms();
    // Approved, with their referral codes, as past decisions left them.
    services
        .db
        .query(&format!(
            "UPDATE affiliates SET state = 'approved', decided_at = {now}, referral_code = 'aff' || id WHERE merchant_id = {merchant}"
        ))
        .execute()
        .await
        .expect("approved");
    let slug: String = services
        .db
        .query_scalar(&format!("SELECT slug FROM merchants WHERE id = {merchant}"))
        .fetch_one()
        .await
        .expect("slug");
    let form = app::api::views::ShopConnectForm {
        shop_domain: SHOP.into(),
        client_id: "bench-app".into(),
        client_secret: "shpss_bench".into(),
    };
    services.shop.connect(merchant, &slug, &form).await.expect("connected");
    let campaign: app::domain::CampaignId = services
        .db
        .query_scalar(&format!("SELECT id FROM campaigns WHERE merchant_id = {merchant}"))
        .fetch_one()
        .await
        .map(app::domain::CampaignId)
        .expect("campaign");
    shopify.fake.world.lock().expect("world").calls.clear();
    tokio::spawn(app.run_until_stopped());

    let start = Instant::now();
    let terms = DiscountForm { value: "15".into(), pattern: "{code}15".into(), ..DiscountForm::suggested() };
    server::services::discounts::save(&services.db, merchant, campaign, &terms).await.expect("terms saved");
    let deadline = start + Duration::from_secs(if smoke { 300 } else { 3_600 });
    loop {
        let s = server::services::discounts::settings(&services.db, merchant, campaign).await.expect("settings");
        if s.progress.active as usize >= n {
            break;
        }
        assert!(Instant::now() < deadline, "codes still on their way: {:?}", s.progress);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let world = shopify.fake.world.lock().expect("world");
    let in_shop: usize = world.shops[SHOP].discounts.iter().map(|d| d.codes.len()).sum();
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for (_, op) in &world.calls {
        *calls.entry(op.clone()).or_default() += 1;
    }
    let throttled = world.throttled;
    drop(world);
    assert_eq!(in_shop, n, "every code is in the shop, once");
    println!(
        "discounts [{engine}]: {n} codes made in Shopify and read back in {elapsed:.1} s ({:.0} codes/s); calls {calls:?}; THROTTLED answers {throttled}",
        n as f64 / elapsed
    );
}
