//! A fake Klaviyo: a real HTTP server that answers Rekomi's calls the way the spec and
//! `../shared/klaviyo/NOTES.md` say Klaviyo does (auth, then scopes, then validation; 202 jobs
//! applied later; double opt-in; 429 with Retry-After; JSON:API errors; cursor pages). Tests, the
//! demo and the benchmarks point `KLAVIYO_API_BASE` at it. `/_fake/*` is its control panel.

mod api;
pub mod cli;
mod jsonapi;
pub mod world;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use backend::klaviyo::ApiScope;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use world::{Account, Faults, Grant, World};

#[derive(Clone, Default)]
pub struct Fake {
    pub world: Arc<Mutex<World>>,
}

/// A running fake: its base URL (for `KLAVIYO_API_BASE`) and a handle on its memory.
pub struct Running {
    pub base_url: String,
    pub fake: Fake,
    pub task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub fn with_faults(faults: Faults) -> Self {
        let fake = Self::default();
        if let Ok(mut w) = fake.world.lock() {
            w.faults = faults;
        }
        fake
    }

    /// Serves on `listener` in a background task.
    pub fn serve(self, listener: TcpListener) -> anyhow::Result<Running> {
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        if let Ok(mut w) = self.world.lock() {
            w.base_url = base_url.clone();
        }
        let router = router(self.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fake Klaviyo stopped");
            }
        });
        Ok(Running { base_url, fake: self, task })
    }

    pub fn add_account(&self, spec: AccountSpec) -> Value {
        let Ok(mut world) = self.world.lock() else { return json!({}) };
        add_account(&mut world, spec)
    }
}

pub fn router(fake: Fake) -> Router {
    Router::new()
        .route("/_fake/accounts", post(create_account))
        .route("/_fake/accounts/{account}", get(account_state))
        .route("/_fake/accounts/{account}/lists", post(create_list))
        .route("/_fake/accounts/{account}/lists/{list}", delete(delete_list))
        .route("/_fake/keys/{key}/revoke", post(revoke_key))
        .route("/_fake/confirm", post(confirm))
        .route("/_fake/accounts/{account}/people", post(person_acts))
        .route("/_fake/faults", get(get_faults).put(put_faults))
        .route("/_fake/requests", get(requests).delete(clear_requests))
        .fallback(api::handle)
        .with_state(fake)
}

#[derive(Debug, Deserialize)]
pub struct KeySpec {
    pub key: String,
    /// API scope names (`lists:read`); `"*"` grants them all.
    pub scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListSpec {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub double_opt_in: bool,
}

#[derive(Debug, Deserialize)]
pub struct AccountSpec {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub test_account: bool,
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    #[serde(default)]
    pub lists: Vec<ListSpec>,
}

fn scopes(names: &[String]) -> BTreeSet<ApiScope> {
    if names.iter().any(|n| n == "*") {
        return ApiScope::ALL.into_iter().collect();
    }
    names.iter().filter_map(|n| ApiScope::parse(n)).collect()
}

fn add_account(world: &mut World, spec: AccountSpec) -> Value {
    let id = spec.id.unwrap_or_else(|| jsonapi::random_id(6).to_uppercase());
    let mut account = Account::new(id.clone(), spec.name, spec.test_account);
    let lists: Vec<Value> = spec
        .lists
        .iter()
        .map(|l| {
            let list_id = account.add_list(l.id.clone(), &l.name, l.double_opt_in);
            json!({ "id": list_id, "name": l.name, "double_opt_in": l.double_opt_in })
        })
        .collect();
    for key in spec.keys {
        world.keys.insert(key.key, Grant { account_id: id.clone(), scopes: scopes(&key.scopes), revoked: false });
    }
    world.accounts.insert(id.clone(), account);
    json!({ "id": id, "lists": lists })
}

type Shared = State<Fake>;

#[allow(clippy::result_large_err)] // a Response; only on a poisoned lock
fn locked(fake: &Fake) -> Result<std::sync::MutexGuard<'_, World>, Response> {
    fake.world.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn create_account(State(fake): Shared, Json(spec): Json<AccountSpec>) -> Response {
    match locked(&fake) {
        Ok(mut world) => (StatusCode::CREATED, Json(add_account(&mut world, spec))).into_response(),
        Err(r) => r,
    }
}

async fn account_state(State(fake): Shared, Path(account): Path<String>) -> Response {
    let mut world = match locked(&fake) {
        Ok(w) => w,
        Err(r) => return r,
    };
    world.settle_all(std::time::Instant::now());
    match world.accounts.get(&account) {
        Some(a) => Json(serde_json::to_value(a).unwrap_or(Value::Null)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn create_list(State(fake): Shared, Path(account): Path<String>, Json(spec): Json<ListSpec>) -> Response {
    let mut world = match locked(&fake) {
        Ok(w) => w,
        Err(r) => return r,
    };
    match world.accounts.get_mut(&account) {
        Some(a) => {
            let id = a.add_list(spec.id, &spec.name, spec.double_opt_in);
            (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete_list(State(fake): Shared, Path((account, list)): Path<(String, String)>) -> Response {
    let mut world = match locked(&fake) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let removed = world.accounts.get_mut(&account).and_then(|a| a.lists.remove(&list)).is_some();
    if removed { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }.into_response()
}

async fn revoke_key(State(fake): Shared, Path(key): Path<String>) -> Response {
    let mut world = match locked(&fake) {
        Ok(w) => w,
        Err(r) => return r,
    };
    match world.keys.get_mut(&key) {
        Some(grant) => {
            grant.revoked = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct Confirmation {
    list_id: String,
    email: String,
}

/// The affiliate clicks the link in Klaviyo's double opt-in mail.
async fn confirm(State(fake): Shared, Json(c): Json<Confirmation>) -> Response {
    let mut world = match locked(&fake) {
        Ok(w) => w,
        Err(r) => return r,
    };
    world.settle_all(std::time::Instant::now());
    let confirmed =
        world.accounts.values_mut().any(|a| a.lists.contains_key(&c.list_id) && a.confirm(&c.list_id, &c.email));
    if confirmed { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }.into_response()
}

/// What a person or the merchant does in Klaviyo's own screens, outside any API call.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum PersonAction {
    /// The person clicks "unsubscribe" in an email.
    Unsubscribe { email: String },
    /// The merchant suppresses the address (or it hard-bounces: `reason` HARD_BOUNCE).
    Suppress { email: String, reason: Option<String> },
    /// The merchant takes the profile out of a list; consent is unchanged.
    RemoveFromList { email: String, list_id: String },
    /// The merchant deletes the profile (a data-privacy request).
    Delete { email: String },
    /// The person subscribes again through one of the merchant's own forms for that list.
    Resubscribe { email: String, list_id: String },
}

async fn person_acts(State(fake): Shared, Path(account): Path<String>, Json(action): Json<PersonAction>) -> Response {
    let mut world = match locked(&fake) {
        Ok(w) => w,
        Err(r) => return r,
    };
    world.settle_all(std::time::Instant::now());
    let Some(account) = world.accounts.get_mut(&account) else { return StatusCode::NOT_FOUND.into_response() };
    if account.person_acts(action) { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }.into_response()
}

async fn get_faults(State(fake): Shared) -> Response {
    match locked(&fake) {
        Ok(world) => Json(world.faults.clone()).into_response(),
        Err(r) => r,
    }
}

async fn put_faults(State(fake): Shared, Json(faults): Json<Faults>) -> Response {
    match locked(&fake) {
        Ok(mut world) => {
            world.faults = faults;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

async fn requests(State(fake): Shared) -> Response {
    match locked(&fake) {
        Ok(world) => Json(world.log.clone()).into_response(),
        Err(r) => r,
    }
}

async fn clear_requests(State(fake): Shared) -> Response {
    match locked(&fake) {
        Ok(mut world) => {
            world.log.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

/// Demo keys, printed at start so a newcomer can paste one.
pub const DEMO_KEY: &str = "pk_demo_rekomi_full_access_0001";
pub const DEMO_KEY_NO_SUBSCRIPTIONS: &str = "pk_demo_rekomi_no_subscriptions_1";
pub const DEMO_KEY_OTHER_ACCOUNT: &str = "pk_demo_rekomi_other_account_0001";

/// A demo account with 35 lists (four pages), one of them double opt-in, and keys with and
/// without the Subscriptions scope; plus a second account to show the "different account" warning.
pub fn seed_demo(fake: &Fake) {
    let mut lists = vec![
        ListSpec { id: Some("AFFIL1".into()), name: "Affiliates".into(), double_opt_in: false },
        ListSpec { id: Some("AFFDOI".into()), name: "Affiliates (double opt-in)".into(), double_opt_in: true },
        ListSpec { id: Some("NEWSLT".into()), name: "Newsletter".into(), double_opt_in: true },
    ];
    let topics =
        ["Customers", "VIP", "Wholesale", "Giveaway", "Back in stock", "Retail partners", "Ambassadors", "Press"];
    for i in 0..32 {
        let topic = topics[i % topics.len()];
        lists.push(ListSpec {
            id: Some(format!("L{:05}", i + 1)),
            name: format!("{topic} {}", 2019 + i / topics.len()),
            double_opt_in: i % 5 == 0,
        });
    }
    let all = vec!["*".to_owned()];
    let no_subscriptions: Vec<String> = ApiScope::ALL
        .iter()
        .filter(|s| !matches!(s, ApiScope::SubscriptionsRead | ApiScope::SubscriptionsWrite))
        .map(|s| s.as_str().to_owned())
        .collect();
    fake.add_account(AccountSpec {
        id: Some("DEMO01".into()),
        name: "Demo Outdoor Co.".into(),
        test_account: true,
        keys: vec![
            KeySpec { key: DEMO_KEY.into(), scopes: all.clone() },
            KeySpec { key: DEMO_KEY_NO_SUBSCRIPTIONS.into(), scopes: no_subscriptions },
        ],
        lists,
    });
    fake.add_account(AccountSpec {
        id: Some("OTHER2".into()),
        name: "Another Store".into(),
        test_account: true,
        keys: vec![KeySpec { key: DEMO_KEY_OTHER_ACCOUNT.into(), scopes: all }],
        lists: vec![ListSpec { id: Some("OTHLST".into()), name: "Partners".into(), double_opt_in: false }],
    });
}
