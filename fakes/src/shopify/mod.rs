//! A fake Shopify: a real HTTP server for tests, the demo and benchmarks. It serves the
//! client-credentials token endpoint and the GraphQL Admin API at `/admin/api/2026-10/graphql.json`
//! for any number of shops, told apart by the `Host` header as Shopify's own servers do. Every
//! document is validated against Shopify's schema file ([`schema`]), scopes included; answers are
//! projected onto the document's selection (aliases, fragments, `__typename`), with Shopify's
//! `extensions.cost` and its leaky bucket (`THROTTLED`). `/_fake/shopify/*` is its control panel.

pub mod cli;
mod customers;
mod discounts;
mod graphql;
pub mod orders;
pub mod schema;
pub mod world;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use world::{App, Faults, Shop, World};

/// The demo store and its two apps: one with every scope Rekomi asks for, one without
/// `write_discounts` (the connect page then names it).
pub const DEMO_SHOP: &str = "demo-outdoor.myshopify.com";
pub const DEMO_CLIENT_ID: &str = "demo0rekomi0full0access0client01";
pub const DEMO_CLIENT_SECRET: &str = "shpss_demo_rekomi_full_access_secret_0001";
pub const DEMO_CLIENT_ID_NO_DISCOUNTS: &str = "demo0rekomi0no0discounts0client1";
pub const DEMO_CLIENT_SECRET_NO_DISCOUNTS: &str = "shpss_demo_rekomi_no_discounts_secret_01";

/// Every scope Rekomi asks for (`backend::shopify::REQUIRED_SCOPES`).
pub fn full_scopes() -> Vec<String> {
    backend::shopify::REQUIRED_SCOPES.iter().map(|(s, _)| (*s).to_owned()).collect()
}

#[derive(Clone, Default)]
pub struct Fake {
    pub world: Arc<Mutex<World>>,
}

pub struct Running {
    pub base_url: String,
    pub fake: Fake,
    pub task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Deserialize)]
pub struct AppSpec {
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    #[serde(default = "yes")]
    pub installed: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub struct ShopSpec {
    pub domain: String,
    pub name: String,
    #[serde(default = "usd")]
    pub currency: String,
    #[serde(default)]
    pub apps: Vec<AppSpec>,
}

fn usd() -> String {
    "USD".to_owned()
}

impl Fake {
    pub fn with_faults(faults: Faults) -> Self {
        let fake = Self::default();
        if let Ok(mut w) = fake.world.lock() {
            w.faults = faults;
        }
        fake
    }

    pub fn serve(self, listener: TcpListener) -> anyhow::Result<Running> {
        // Read the schema before the first request, so a missing file fails loudly at start.
        schema::AdminSchema::shared()?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let router = router(self.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fake Shopify stopped");
            }
        });
        Ok(Running { base_url, fake: self, task })
    }

    pub fn add_shop(&self, spec: ShopSpec) {
        let Ok(mut world) = self.world.lock() else { return };
        let mut shop = Shop::new(&spec.domain, &spec.name, &spec.currency);
        for app in spec.apps {
            shop.apps.insert(
                app.client_id.clone(),
                App {
                    client_id: app.client_id,
                    client_secret: app.client_secret,
                    scopes: app.scopes.into_iter().collect(),
                    installed: app.installed,
                },
            );
        }
        world.shops.insert(spec.domain, shop);
    }
}

/// The demo store with its two apps.
pub fn seed_demo(fake: &Fake) {
    let without_discounts: Vec<String> = full_scopes().into_iter().filter(|s| s != "write_discounts").collect();
    fake.add_shop(ShopSpec {
        domain: DEMO_SHOP.into(),
        name: "Demo Outdoor Co.".into(),
        currency: "USD".into(),
        apps: vec![
            AppSpec {
                client_id: DEMO_CLIENT_ID.into(),
                client_secret: DEMO_CLIENT_SECRET.into(),
                scopes: full_scopes(),
                installed: true,
            },
            AppSpec {
                client_id: DEMO_CLIENT_ID_NO_DISCOUNTS.into(),
                client_secret: DEMO_CLIENT_SECRET_NO_DISCOUNTS.into(),
                scopes: without_discounts,
                installed: true,
            },
        ],
    });
}

pub fn router(fake: Fake) -> Router {
    Router::new()
        .route("/admin/oauth/access_token", post(access_token))
        .route("/admin/api/{version}/graphql.json", post(graphql::handle))
        .route("/_fake/shopify/shops", post(create_shop))
        .route("/_fake/shopify/shops/{shop}", get(shop_state))
        .route("/_fake/shopify/shops/{shop}/apps/{client_id}", put(set_app))
        .route("/_fake/shopify/shops/{shop}/discounts", post(admin_discount))
        .route("/_fake/shopify/shops/{shop}/orders", post(orders::place))
        .route("/_fake/shopify/shops/{shop}/orders/{id}/refunds", post(orders::refund))
        .route("/_fake/shopify/shops/{shop}/orders/{id}/cancel", post(orders::cancel))
        .route("/_fake/shopify/shops/{shop}/deliveries", get(orders::deliveries))
        .route("/_fake/shopify/faults", get(get_faults).put(put_faults))
        .route("/_fake/shopify/calls", get(calls))
        .with_state(fake)
}

/// The shop a request is for, by its `Host` (without a port).
pub(crate) fn shop_of(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase())
        .unwrap_or_default()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

/// `POST /admin/oauth/access_token` with `grant_type=client_credentials`.
async fn access_token(
    State(fake): State<Fake>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "The request body must be form-encoded.");
    };
    let shop = shop_of(&headers);
    let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let Some(found) = world.shops.get(&shop) else {
        return (StatusCode::NOT_FOUND, "There's no store at this address.").into_response();
    };
    if form.grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only client_credentials is supported here.",
        );
    }
    let Some(app) = found.apps.get(&form.client_id).filter(|a| a.client_secret == form.client_secret) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Client authentication failed.");
    };
    if !app.installed {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "shop_not_permitted",
            "Client credentials cannot be performed on this shop: the app is not installed on it.",
        );
    }
    let scope = app.scopes.iter().cloned().collect::<Vec<_>>().join(",");
    let client_id = app.client_id.clone();
    let (token, ttl) = world.issue_token(&shop, &client_id);
    Json(json!({ "access_token": token, "scope": scope, "expires_in": ttl })).into_response()
}

async fn create_shop(State(fake): State<Fake>, Json(spec): Json<ShopSpec>) -> Response {
    let domain = spec.domain.clone();
    fake.add_shop(spec);
    (StatusCode::CREATED, Json(json!({ "domain": domain }))).into_response()
}

#[derive(Deserialize)]
struct AppChange {
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    installed: Option<bool>,
    #[serde(default)]
    client_secret: Option<String>,
}

/// Changes an app on a shop: its scopes, whether it is installed (uninstalling revokes its tokens).
async fn set_app(
    State(fake): State<Fake>,
    Path((shop, client_id)): Path<(String, String)>,
    Json(change): Json<AppChange>,
) -> Response {
    let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let Some(found) = world.shops.get_mut(&shop) else { return StatusCode::NOT_FOUND.into_response() };
    let app = found.apps.entry(client_id.clone()).or_insert_with(|| App {
        client_id: client_id.clone(),
        client_secret: change.client_secret.clone().unwrap_or_default(),
        scopes: BTreeSet::new(),
        installed: true,
    });
    if let Some(scopes) = change.scopes {
        app.scopes = scopes.into_iter().collect();
    }
    if let Some(secret) = change.client_secret {
        app.client_secret = secret;
    }
    if let Some(installed) = change.installed {
        app.installed = installed;
        if !installed {
            world.tokens.retain(|_, g| !(g.shop == shop && g.client_id == client_id));
            if let Some(found) = world.shops.get_mut(&shop) {
                found.webhooks.retain(|w| w.client_id != client_id);
            }
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct AdminDiscount {
    title: String,
    codes: Vec<String>,
}

/// A discount made in the Shopify admin (not by an app), e.g. to hold a code Rekomi would choose.
async fn admin_discount(
    State(fake): State<Fake>,
    Path(shop): Path<String>,
    Json(body): Json<AdminDiscount>,
) -> Response {
    let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let Some(found) = world.shops.get_mut(&shop) else { return StatusCode::NOT_FOUND.into_response() };
    let id = found.gid("DiscountCodeNode");
    let codes =
        body.codes.into_iter().map(|code| world::RedeemCode { id: found.gid("DiscountRedeemCode"), code }).collect();
    found.discounts.push(world::Discount {
        id: id.clone(),
        title: body.title,
        status: "ACTIVE".into(),
        input: json!({}),
        codes,
        app: None,
    });
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

async fn shop_state(State(fake): State<Fake>, Path(shop): Path<String>) -> Response {
    let Ok(world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let Some(found) = world.shops.get(&shop) else { return StatusCode::NOT_FOUND.into_response() };
    let webhooks: Vec<Value> =
        found.webhooks.iter().map(|w| json!({ "id": w.id, "topic": w.topic, "uri": w.uri })).collect();
    let discounts: Vec<Value> = found
        .discounts
        .iter()
        .map(|d| {
            json!({
                "id": d.id, "title": d.title, "status": d.status, "input": d.input, "app": d.app,
                "codes": d.codes.iter().map(|c| c.code.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({
        "domain": found.domain, "name": found.name, "webhooks": webhooks, "discounts": discounts,
        "customers": customers::summary(found),
        "tokens_issued": world.tokens_issued,
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
struct FaultsBody {
    #[serde(default)]
    graphql_status: Option<u16>,
    #[serde(default)]
    no_throttle: bool,
    #[serde(default)]
    token_ttl_secs: Option<u64>,
    #[serde(default)]
    drop_deliveries: bool,
    #[serde(default)]
    fail_first_deliveries: u32,
    #[serde(default)]
    retry_delays_ms: Vec<u64>,
    #[serde(default)]
    lose_credit_answers: u32,
}

async fn get_faults(State(fake): State<Fake>) -> Response {
    let Ok(world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let f = &world.faults;
    Json(json!({ "graphql_status": f.graphql_status, "no_throttle": f.no_throttle, "token_ttl_secs": f.token_ttl_secs,
            "drop_deliveries": f.drop_deliveries, "fail_first_deliveries": f.fail_first_deliveries,
            "retry_delays_ms": f.retry_delays_ms }))
    .into_response()
}

async fn put_faults(State(fake): State<Fake>, Json(body): Json<FaultsBody>) -> Response {
    let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    world.faults = Faults {
        graphql_status: body.graphql_status,
        no_throttle: body.no_throttle,
        token_ttl_secs: body.token_ttl_secs,
        drop_deliveries: body.drop_deliveries,
        fail_first_deliveries: body.fail_first_deliveries,
        retry_delays_ms: body.retry_delays_ms,
        lose_credit_answers: body.lose_credit_answers,
    };
    StatusCode::NO_CONTENT.into_response()
}

async fn calls(State(fake): State<Fake>) -> Response {
    let Ok(world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let list: Vec<Value> = world.calls.iter().map(|(shop, op)| json!({ "shop": shop, "operation": op })).collect();
    Json(list).into_response()
}
