//! `spawn_app()` and typed helpers for calling the server like a browser would.

use app::api::views::{ApplicationView, CampaignView, QueueFilter, QueuePage};
use app::error::AppError;
use fakes::klaviyo::world::Faults;
use fakes::klaviyo::Fake;
use leptos::config::LeptosOptions;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use server::config::{Config, SecretKey};
use server::startup::Application;
use server::store::Db;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestApp {
    pub address: String,
    pub db: Db,
    /// This test's own fake Klaviyo (jobs apply at once unless a test changes the faults).
    pub klaviyo: Fake,
    /// This test's own fake Shopify (no shops until a test adds them) and its address.
    pub shopify: fakes::shopify::Fake,
    pub shopify_base: String,
    pub services: server::services::Services,
}

/// Per-test configuration tweaks.
pub struct Options {
    pub auth_per_minute: u32,
    pub apply_per_minute: u32,
    pub klaviyo_tests_per_minute: u32,
    pub api_per_minute: u32,
    pub sync: server::outbox::Settings,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            auth_per_minute: 1_000,
            apply_per_minute: 1_000,
            klaviyo_tests_per_minute: 1_000,
            api_per_minute: 10_000,
            // Short patience so tests of unapplied jobs finish quickly.
            sync: server::outbox::Settings {
                lease: std::time::Duration::from_secs(10),
                verify_timeout: std::time::Duration::from_secs(3),
                max_attempts: 3,
                reconcile_every: std::time::Duration::from_secs(24 * 3600),
                worker: true,
            },
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        server::telemetry::init();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the fake Klaviyo binds");
    let fake =
        Fake::with_faults(Faults { job_delay_ms: 0, ..Faults::default() }).serve(listener).expect("fake Klaviyo");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the fake Shopify binds");
    let shopify = fakes::shopify::Fake::default().serve(listener).expect("fake Shopify");
    let config = Config {
        database_url: fresh_database().await,
        addr: "127.0.0.1:0".parse().expect("BUG: literal address"),
        public_url: None,
        trust_proxy: false,
        auth_per_minute: options.auth_per_minute,
        apply_per_minute: options.apply_per_minute,
        secret_key: SecretKey([7; 32]),
        klaviyo_api_base: fake.base_url.clone(),
        shopify_api_base: Some(shopify.base_url.clone()),
        klaviyo_tests_per_minute: options.klaviyo_tests_per_minute,
        api_per_minute: options.api_per_minute,
        test_hooks: false,
        webhooks_allow_private: true,
        sync: options.sync,
        leptos: LeptosOptions::builder().output_name("rekomi").build(),
    };
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://{}", app.address());
    let db = app.services().db.clone();
    let services = app.services().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp { address, db, klaviyo: fake.fake, shopify: shopify.fake, shopify_base: shopify.base_url, services }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database no other test uses.
async fn fresh_database() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nonce: u32 = rand::random();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) => {
            use sqlx::Connection;
            let name = format!("rekomi_test_{}_{n}_{nonce:08x}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("TEST_DATABASE_URL is reachable");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create test database");
            let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("TEST_DATABASE_URL has a database path");
            format!("{base}/{name}")
        }
        Err(_) => {
            let path = std::env::temp_dir().join(format!("rekomi-test-{}-{n}-{nonce:08x}.db", std::process::id()));
            format!("sqlite:{}", path.display())
        }
    }
}

/// A browser-like client with its own cookie jar.
pub struct Browser {
    pub client: reqwest::Client,
    pub address: String,
}

pub type CallResult<T> = Result<T, (StatusCode, AppError)>;

impl TestApp {
    pub fn browser(&self) -> Browser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("BUG: client builds");
        Browser { client, address: self.address.clone() }
    }

    /// A new merchant, signed in.
    pub async fn merchant(&self, shop: &str) -> Browser {
        let browser = self.browser();
        let email = format!("{}-{}@example.com", shop.to_lowercase().replace(' ', "-"), rand::random::<u32>());
        browser
            .call::<Value>("sign_up", json!({"shop_name": shop, "email": email, "password": "correct horse battery"}))
            .await
            .expect("sign up works");
        browser
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }
}

impl Browser {
    /// Calls a server function the way the app does (JSON in, JSON out).
    pub async fn call<T: DeserializeOwned>(&self, endpoint: &str, body: Value) -> CallResult<T> {
        let response = self
            .client
            .post(format!("{}/api/{endpoint}", self.address))
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        if status.is_success() {
            Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{endpoint}: unexpected body {text}: {e}")))
        } else {
            let error: AppError =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{endpoint}: {status} with body {text}: {e}"));
            Err((status, error))
        }
    }

    pub async fn create_campaign(&self, form: Value) -> CallResult<CampaignView> {
        self.call("create_campaign", json!({ "form": form })).await
    }

    pub async fn queue(&self, filter: QueueFilter) -> QueuePage {
        self.call("approval_queue", json!({ "filter": filter })).await.expect("queue loads")
    }

    pub async fn decide(
        &self,
        ids: &[app::domain::AffiliateId],
        decision: &str,
    ) -> CallResult<app::api::views::DecisionOutcome> {
        self.call("decide_applications", json!({ "ids": ids, "decision": decision })).await
    }

    /// Posts the public application form, and (as the applicant opening their verification link
    /// would) has this merchant confirm the address: most tests are about what follows. A landing
    /// page of another merchant is only posted to.
    pub async fn apply(&self, landing_path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let (status, html) = self.apply_unconfirmed(landing_path, fields).await;
        let email = fields.iter().find(|(k, _)| *k == "email").map(|(_, v)| v.trim().to_lowercase());
        if let (true, Some(email)) = (status.is_success(), email) {
            let page = self.queue(QueueFilter { search: email.clone(), ..Default::default() }).await;
            let ids: Vec<_> =
                page.items.iter().filter(|a| a.email == email && !a.email_verified).map(|a| a.id).collect();
            if !ids.is_empty() {
                let _: app::api::views::DecisionOutcome =
                    self.call("verify_emails", json!({ "ids": ids })).await.expect("confirmed by hand");
            }
        }
        (status, html)
    }

    /// Posts the public application form; the address stays unconfirmed.
    pub async fn apply_unconfirmed(&self, landing_path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let response = self
            .client
            .post(format!("{}{landing_path}", self.address))
            .form(fields)
            .send()
            .await
            .expect("the server answers");
        (response.status(), response.text().await.expect("a body"))
    }

    /// The application with this email, in any state.
    pub async fn find(&self, email: &str) -> ApplicationView {
        let page = self.queue(QueueFilter { search: email.into(), ..Default::default() }).await;
        page.items.into_iter().find(|a| a.email == email).unwrap_or_else(|| panic!("{email} is in the queue"))
    }
}

/// A valid campaign form, with overrides.
pub fn campaign_form(overrides: Value) -> Value {
    let mut form = json!({
        "name": "Spring Partners",
        "slug": "",
        "pitch": "Earn 10 % on every order you send our way.",
        "terms": "Be honest about our products.\n\nNo paid search on our brand.",
        "commission_kind": "percent",
        "commission_rate": "10",
        "commission_amount": "",
        "currency": "USD",
        "cookie_days": "30",
        "destination_url": "",
        "auto_approve": false,
        "accepting": true
    });
    if let (Some(form), Some(overrides)) = (form.as_object_mut(), overrides.as_object()) {
        for (k, v) in overrides {
            form.insert(k.clone(), v.clone());
        }
    }
    form
}

/// The form fields of a complete application.
pub fn application<'a>(name: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("email", email),
        ("website", "@ana.creates"),
        ("message", "I review shoes."),
        ("accept_terms", "on"),
    ]
}
