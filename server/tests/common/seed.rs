#![allow(dead_code)]
//! A merchant ready to sync at scale, shared by the sync benchmark and the chaos test: a fake
//! Klaviyo account with one single opt-in list, a connected key, a campaign, and `n` pending
//! affiliates with consent, inserted in bulk.

use app::api::views::ConnectOutcome;
use app::domain::{AffiliateId, CampaignForm, MerchantId};
use fakes::klaviyo::{AccountSpec, Fake, KeySpec, ListSpec};
use server::services::Services;
use server::store::Db;

pub const KEY: &str = "pk_live_loadloadloadloadloadload0001";
pub const LIST: &str = "LOADLS";
pub const ACCOUNT: &str = "LOAD01";

pub struct Seeded {
    pub merchant: MerchantId,
    pub affiliates: Vec<AffiliateId>,
}

pub fn email(i: usize) -> String {
    format!("affiliate{i:06}@example.com")
}

pub async fn seed(services: &Services, fake: &Fake, n: usize) -> Seeded {
    fake.add_account(AccountSpec {
        id: Some(ACCOUNT.into()),
        name: "Load Co".into(),
        test_account: false,
        keys: vec![KeySpec { key: KEY.into(), scopes: vec!["*".into()] }],
        lists: vec![ListSpec { id: Some(LIST.into()), name: "Affiliates".into(), double_opt_in: false }],
    });
    let owner = format!("owner-{}@example.com", rand::random::<u32>());
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let issued = services.accounts.sign_up("Load Shop", &owner, "correct horse battery", ip).await.expect("sign up");
    let merchant = issued.view.merchant_id;
    let outcome = services.klaviyo.connect(merchant, KEY, None).await.expect("connects");
    assert!(matches!(outcome, ConnectOutcome::Connected(_)), "{outcome:?}");
    services.klaviyo.choose_default_list(merchant, LIST).await.expect("list chosen");
    let form = CampaignForm {
        name: "Load Partners".into(),
        pitch: "Earn 10 %.".into(),
        terms: "Be honest.".into(),
        commission_kind: "percent".into(),
        commission_rate: "10".into(),
        currency: "USD".into(),
        cookie_days: "30".into(),
        destination_url: "https://shop.example.com/".into(),
        accepting: true,
        ..CampaignForm::default()
    };
    let campaign = server::services::campaigns::create(&services.db, merchant, &form).await.expect("campaign");
    insert_pending(&services.db, merchant, campaign.id.get(), n).await;
    let affiliates = ids(&services.db, merchant).await;
    assert_eq!(affiliates.len(), n);
    Seeded { merchant, affiliates }
}

async fn insert_pending(db: &Db, merchant: MerchantId, campaign: i64, n: usize) {
    const COLUMNS: &str = "INSERT INTO affiliates (merchant_id, campaign_id, email, full_name, first_name, last_name,
        state, source, consent_terms_version, consent_at, consent_source, applied_at, email_verified_at) ";
    let now = server::store::now_ms();
    let rows: Vec<usize> = (0..n).collect();
    macro_rules! insert {
        ($pool:expr, $engine:ty) => {
            for chunk in rows.chunks(500) {
                let mut q = sqlx::QueryBuilder::<$engine>::new(COLUMNS);
                q.push_values(chunk, |mut b, i| {
                    b.push_bind(merchant)
                        .push_bind(campaign)
                        .push_bind(email(*i))
                        .push_bind(format!("Affiliate Number{i}"))
                        .push_bind("Affiliate")
                        .push_bind(format!("Number{i}"))
                        .push_bind("pending")
                        .push_bind("form")
                        .push_bind(1_i64)
                        .push_bind(now)
                        .push_bind("form")
                        .push_bind(now)
                        // Confirmed their address: the benchmarks measure what follows.
                        .push_bind(now);
                });
                q.build().execute($pool).await.expect("affiliates inserted");
            }
        };
    }
    match db {
        Db::Sqlite(pool) => insert!(pool, sqlx::Sqlite),
        Db::Postgres(pool) => insert!(pool, sqlx::Postgres),
    }
}

async fn ids(db: &Db, merchant: MerchantId) -> Vec<AffiliateId> {
    let sql = "SELECT id FROM affiliates WHERE merchant_id = $1 ORDER BY id";
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).bind(merchant).fetch_all(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).bind(merchant).fetch_all(pool).await,
    }
    .expect("ids")
}

/// Sync rows by state over the whole database.
pub async fn counts(db: &Db) -> std::collections::BTreeMap<String, i64> {
    server::store::sync::global_counts(db).await.expect("counts").into_iter().collect()
}

/// A database nobody else uses: a new PostgreSQL database under `TEST_DATABASE_URL`, else a
/// SQLite file in the temp dir.
pub async fn fresh_database(tag: &str) -> String {
    let nonce: u32 = rand::random();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) => {
            use sqlx::Connection;
            let name = format!("rekomi_{tag}_{}_{nonce:08x}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("TEST_DATABASE_URL is reachable");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
            let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("a database path");
            format!("{base}/{name}")
        }
        Err(_) => {
            let path = std::env::temp_dir().join(format!("rekomi-{tag}-{}-{nonce:08x}.db", std::process::id()));
            format!("sqlite:{}", path.display())
        }
    }
}

/// The configuration benches and load tests run the server with: no rate limits, port 0.
pub fn config(database_url: String, klaviyo_api_base: &str, sync: server::outbox::Settings) -> server::config::Config {
    server::config::Config {
        database_url,
        addr: "127.0.0.1:0".parse().expect("address"),
        public_url: None,
        trust_proxy: false,
        auth_per_minute: 0,
        apply_per_minute: 0,
        secret_key: server::config::SecretKey([3; 32]),
        klaviyo_api_base: klaviyo_api_base.to_owned(),
        shopify_api_base: None,
        klaviyo_tests_per_minute: 0,
        api_per_minute: 0,
        test_hooks: false,
        webhooks_allow_private: false,
        sync,
        leptos: leptos::config::LeptosOptions::builder().output_name("rekomi").build(),
    }
}
