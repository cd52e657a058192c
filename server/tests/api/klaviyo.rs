//! Connecting Klaviyo through the server functions: key checks that name what is wrong, the sealed
//! key that never comes back, the live list picker, and one merchant never touching another's.

use crate::helpers::{campaign_form, spawn_app, spawn_app_with, Browser, Options, TestApp};
use app::api::views::{CampaignView, ChosenList, ConnectOutcome, ConnectionView, KlaviyoListView, KlaviyoOverview};
use app::domain::klaviyo::{KeyScope, OptIn, ScopeState};
use app::error::ErrorKind;
use fakes::klaviyo::{AccountSpec, KeySpec, ListSpec};
use serde_json::{json, Value};

const KEY: &str = "pk_live_abcdefghijklmnopqrstuvwx1234";
const NO_SUBSCRIPTIONS: &str = "pk_live_nosubscriptionsxxxxxxxx5678";
const NO_LISTS_PROFILES: &str = "pk_live_nolistsnoprofilesxxxxxx9012";
const OTHER_ACCOUNT: &str = "pk_live_otheraccountxxxxxxxxxxx3456";

fn without(excluded: &[&str]) -> Vec<String> {
    [
        "accounts:read",
        "lists:read",
        "lists:write",
        "profiles:read",
        "profiles:write",
        "subscriptions:read",
        "subscriptions:write",
        "events:read",
        "events:write",
    ]
    .into_iter()
    .filter(|s| !excluded.iter().any(|e| s.starts_with(e)))
    .map(str::to_owned)
    .collect()
}

/// A Klaviyo account with `lists` lists ("List 00" …, every fourth double opt-in) and keys.
fn klaviyo_account(app: &TestApp, id: &str, lists: usize) {
    let key = |key: &str, scopes: Vec<String>| KeySpec { key: key.into(), scopes };
    let keys = if id == "ACCT01" {
        vec![
            key(KEY, vec!["*".into()]),
            key(NO_SUBSCRIPTIONS, without(&["subscriptions"])),
            key(NO_LISTS_PROFILES, without(&["lists", "profiles"])),
        ]
    } else {
        vec![key(OTHER_ACCOUNT, vec!["*".into()])]
    };
    app.klaviyo.add_account(AccountSpec {
        id: Some(id.into()),
        name: format!("Klaviyo {id}"),
        test_account: false,
        keys,
        lists: (0..lists)
            .map(|i| ListSpec {
                id: Some(format!("{id}{i:02}")),
                name: format!("List {i:02}"),
                double_opt_in: i % 4 == 3,
            })
            .collect(),
    });
}

async fn connect(
    browser: &Browser,
    key: &str,
    confirm: Option<&str>,
) -> Result<ConnectOutcome, (reqwest::StatusCode, app::error::AppError)> {
    browser.call("connect_klaviyo", json!({"key": key, "confirm_account_id": confirm})).await
}

async fn connected(browser: &Browser, key: &str) -> ConnectionView {
    match connect(browser, key, None).await.expect("connects") {
        ConnectOutcome::Connected(view) => view,
        other => panic!("expected a connection, got {other:?}"),
    }
}

async fn overview(browser: &Browser) -> KlaviyoOverview {
    browser.call("klaviyo_status", json!({})).await.expect("status loads")
}

/// Raw text of a server-function answer, to look for the key in it.
async fn raw(browser: &Browser, endpoint: &str, body: Value) -> String {
    let response =
        browser.client.post(format!("{}/api/{endpoint}", browser.address)).json(&body).send().await.expect("answers");
    response.text().await.expect("text")
}

#[tokio::test]
async fn a_good_key_is_verified_live_and_saved_sealed_and_only_its_hint_comes_back() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 3);
    let merchant = app.merchant("Ana Shop").await;

    let view = connected(&merchant, KEY).await;
    assert_eq!(view.key_hint, "pk_…1234");
    assert_eq!((view.account.id.as_str(), view.account.name.as_str()), ("ACCT01", "Klaviyo ACCT01"));
    let states: Vec<(KeyScope, ScopeState)> = view.checks.iter().map(|c| (c.scope, c.state)).collect();
    assert_eq!(
        states,
        vec![
            (KeyScope::AccountsRead, ScopeState::Verified),
            (KeyScope::ListsFull, ScopeState::ReadVerifiedWritePending),
            (KeyScope::ProfilesFull, ScopeState::ReadVerifiedWritePending),
            (KeyScope::SubscriptionsFull, ScopeState::ReadVerifiedWritePending),
            (KeyScope::EventsFull, ScopeState::ReadVerifiedWritePending),
        ],
        "reads are proven; writes are confirmed by the first sync"
    );
    assert_eq!(overview(&merchant).await.connection.map(|c| c.key_hint), Some("pk_…1234".to_owned()));

    // The key is stored sealed, never in clear, and no answer carries it.
    let sealed: Vec<u8> = match &app.db {
        server::store::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT key_sealed FROM klaviyo_connections").fetch_one(pool).await
        }
        server::store::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT key_sealed FROM klaviyo_connections").fetch_one(pool).await
        }
    }
    .expect("a sealed key");
    assert!(!sealed.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
    for (endpoint, body) in [
        ("klaviyo_status", json!({})),
        ("connect_klaviyo", json!({"key": KEY, "confirm_account_id": null})),
        ("klaviyo_lists", json!({})),
        ("choose_default_list", json!({"list_id": "ACCT0100"})),
    ] {
        let text = raw(&merchant, endpoint, body).await;
        assert!(!text.contains(KEY) && !text.contains(&KEY[3..]), "{endpoint} leaked the key: {text}");
    }
}

#[tokio::test]
async fn a_malformed_key_is_refused_before_any_call_to_klaviyo() {
    let app = spawn_app().await;
    let merchant = app.merchant("Ana Shop").await;
    for (key, expected) in [
        ("", "Paste your Klaviyo private API key."),
        ("AbC123", "That looks like your public API key"),
        ("sk_live_0123456789abcdefghijkl", "starts with pk_"),
        ("pk_short", "cut short"),
    ] {
        let (status, error) = connect(&merchant, key, None).await.expect_err("refused");
        assert_eq!(status, 422);
        assert!(error.fields.get("key").is_some_and(|m| m.contains(expected)), "{key:?}: {error:?}");
    }
    assert!(app.klaviyo.world.lock().expect("world").log.is_empty(), "nothing was sent to Klaviyo");
}

#[tokio::test]
async fn an_unknown_or_revoked_key_says_klaviyo_does_not_accept_it() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 1);
    let merchant = app.merchant("Ana Shop").await;
    let (status, error) = connect(&merchant, "pk_live_nobodyknowsthiskeyxxxxx0000", None).await.expect_err("refused");
    assert_eq!(status, 422);
    assert!(error.fields.get("key").is_some_and(|m| m.starts_with("Klaviyo doesn't accept this key")), "{error:?}");

    connected(&merchant, KEY).await;
    app.klaviyo.world.lock().expect("world").keys.get_mut(KEY).expect("key").revoked = true;
    let (status, error) = merchant.call::<Vec<KlaviyoListView>>("klaviyo_lists", json!({})).await.expect_err("revoked");
    assert_eq!((status.as_u16(), error.kind), (409, ErrorKind::Conflict));
    assert!(error.message.contains("no longer accepts the saved key"), "{error:?}");
}

#[tokio::test]
async fn a_key_lacking_a_permission_is_named_exactly_and_not_saved() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 1);
    let merchant = app.merchant("Ana Shop").await;

    match connect(&merchant, NO_SUBSCRIPTIONS, None).await.expect("answers") {
        ConnectOutcome::MissingScopes { message, checks, account } => {
            assert_eq!(
                message,
                "This key is missing the Subscriptions Full permission. In Klaviyo, open Settings → API keys, edit \
                 the key (or create a new one) with Accounts Read, Lists Full, Profiles Full, Subscriptions Full and \
                 Events Full, then paste it here."
            );
            let missing: Vec<KeyScope> =
                checks.iter().filter(|c| c.state == ScopeState::Missing).map(|c| c.scope).collect();
            assert_eq!(missing, vec![KeyScope::SubscriptionsFull]);
            assert_eq!(account.map(|a| a.id), Some("ACCT01".into()));
        }
        other => panic!("expected missing scopes, got {other:?}"),
    }
    assert!(overview(&merchant).await.connection.is_none(), "not saved");

    match connect(&merchant, NO_LISTS_PROFILES, None).await.expect("answers") {
        ConnectOutcome::MissingScopes { message, .. } => {
            assert!(
                message.starts_with("This key is missing the Lists Full and Profiles Full permissions."),
                "{message}"
            )
        }
        other => panic!("expected missing scopes, got {other:?}"),
    }
}

#[tokio::test]
async fn the_list_picker_reads_every_page_and_the_choice_is_saved() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 35);
    let merchant = app.merchant("Ana Shop").await;
    connected(&merchant, KEY).await;
    app.klaviyo.world.lock().expect("world").log.clear();

    let lists: Vec<KlaviyoListView> = merchant.call("klaviyo_lists", json!({})).await.expect("lists");
    assert_eq!(lists.len(), 35);
    assert_eq!(lists.iter().map(|l| l.name.as_str()).take(3).collect::<Vec<_>>(), ["List 00", "List 01", "List 02"]);
    assert_eq!(lists[3].opt_in, OptIn::Double);
    assert_eq!(app.klaviyo.world.lock().expect("world").log.len(), 4, "35 lists are four pages of ten");

    let view: ConnectionView =
        merchant.call("choose_default_list", json!({"list_id": "ACCT0107"})).await.expect("chosen");
    assert_eq!(
        view.default_list,
        Some(ChosenList { id: "ACCT0107".into(), name: "List 07".into(), opt_in: OptIn::Double, missing: false })
    );
    let again = overview(&merchant).await.connection.expect("connected");
    assert_eq!(again.default_list.map(|l| l.name), Some("List 07".into()), "shown after reload");

    let (status, error) = merchant
        .call::<ConnectionView>("choose_default_list", json!({"list_id": "NOPE"}))
        .await
        .expect_err("unknown list");
    assert_eq!(status, 404);
    assert!(error.message.contains("no such list"), "{error:?}");
}

#[tokio::test]
async fn a_list_deleted_in_klaviyo_is_detected() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 3);
    let merchant = app.merchant("Ana Shop").await;
    connected(&merchant, KEY).await;
    merchant.call::<ConnectionView>("choose_default_list", json!({"list_id": "ACCT0101"})).await.expect("chosen");
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("campaign");
    let chosen: Option<ChosenList> = merchant
        .call("choose_campaign_list", json!({"campaign": campaign.id, "list_id": "ACCT0102"}))
        .await
        .expect("campaign list");
    assert_eq!(chosen.map(|l| l.id), Some("ACCT0102".into()));

    for list in ["ACCT0101", "ACCT0102"] {
        app.klaviyo.world.lock().expect("world").accounts.get_mut("ACCT01").expect("account").lists.remove(list);
    }
    let lists: Vec<KlaviyoListView> = merchant.call("klaviyo_lists", json!({})).await.expect("lists");
    assert_eq!(lists.len(), 1);
    let status = overview(&merchant).await.connection.expect("connected");
    assert_eq!(status.default_list.map(|l| (l.name, l.missing)), Some(("List 01".into(), true)));
    let campaign: CampaignView = merchant.call("get_campaign", json!({"id": campaign.id})).await.expect("campaign");
    assert_eq!(campaign.klaviyo_list.map(|l| l.missing), Some(true));
}

#[tokio::test]
async fn a_campaign_can_use_its_own_list_or_go_back_to_the_default() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 3);
    let merchant = app.merchant("Ana Shop").await;
    let other = app.merchant("Bo Shop").await;
    connected(&merchant, KEY).await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("campaign");
    assert_eq!(campaign.klaviyo_list, None, "the default list unless chosen");

    set_list(&merchant, campaign.id, Some("ACCT0100")).await.expect("own list");
    let view: CampaignView = merchant.call("get_campaign", json!({"id": campaign.id})).await.expect("campaign");
    assert_eq!(view.klaviyo_list.map(|l| l.name), Some("List 00".into()));
    // Renamed in Klaviyo: the next list read brings the new name.
    if let Some(list) =
        app.klaviyo.world.lock().expect("world").accounts.get_mut("ACCT01").and_then(|a| a.lists.get_mut("ACCT0100"))
    {
        list.name = "Partners".into();
    }
    merchant.call::<Vec<KlaviyoListView>>("klaviyo_lists", json!({})).await.expect("lists");
    let view: CampaignView = merchant.call("get_campaign", json!({"id": campaign.id})).await.expect("campaign");
    assert_eq!(view.klaviyo_list.map(|l| (l.name, l.missing)), Some(("Partners".into(), false)));
    assert_eq!(set_list(&merchant, campaign.id, None).await.expect("back to default"), None);

    // Another merchant can neither see nor set it (and has no connection to use).
    let (status, _) = set_list(&other, campaign.id, Some("ACCT0100")).await.expect_err("not theirs");
    assert_eq!(status, 409, "not connected");
    assert!(overview(&other).await.connection.is_none());
    let (status, _) = other.call::<Vec<KlaviyoListView>>("klaviyo_lists", json!({})).await.expect_err("not connected");
    assert_eq!(status, 409);
    connected_other(&app, &other).await;
    let (status, _) = set_list(&other, campaign.id, Some("OTHER100")).await.expect_err("not their campaign");
    assert_eq!(status, 404);
}

async fn set_list(
    b: &Browser,
    campaign: app::domain::CampaignId,
    list: Option<&str>,
) -> Result<Option<ChosenList>, (reqwest::StatusCode, app::error::AppError)> {
    b.call("choose_campaign_list", json!({"campaign": campaign, "list_id": list})).await
}

async fn connected_other(app: &TestApp, browser: &Browser) {
    klaviyo_account(app, "OTHER1", 1);
    connected(browser, OTHER_ACCOUNT).await;
}

#[tokio::test]
async fn a_key_from_another_account_is_flagged_and_switching_clears_the_lists() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 2);
    klaviyo_account(&app, "OTHER1", 1);
    let merchant = app.merchant("Ana Shop").await;
    connected(&merchant, KEY).await;
    merchant.call::<ConnectionView>("choose_default_list", json!({"list_id": "ACCT0100"})).await.expect("chosen");

    let after: KlaviyoOverview = merchant.call("disconnect_klaviyo", json!({})).await.expect("disconnects");
    assert!(after.connection.is_none());
    assert_eq!(after.previous_account.map(|a| a.id), Some("ACCT01".into()));

    match connect(&merchant, OTHER_ACCOUNT, None).await.expect("answers") {
        ConnectOutcome::OtherAccount { previous, new } => {
            assert_eq!(
                (previous.id.as_str(), new.id.as_str(), new.name.as_str()),
                ("ACCT01", "OTHER1", "Klaviyo OTHER1")
            );
        }
        other => panic!("expected the other-account warning, got {other:?}"),
    }
    assert!(overview(&merchant).await.connection.is_none(), "not saved until confirmed");
    match connect(&merchant, OTHER_ACCOUNT, Some("ACCT01")).await.expect("answers") {
        ConnectOutcome::OtherAccount { .. } => {}
        other => panic!("a confirmation naming another account must not switch, got {other:?}"),
    }
    match connect(&merchant, OTHER_ACCOUNT, Some("OTHER1")).await.expect("answers") {
        ConnectOutcome::Connected(view) => {
            assert_eq!(view.account.id, "OTHER1");
            assert_eq!(view.default_list, None, "the old account's list is cleared");
        }
        other => panic!("expected a connection, got {other:?}"),
    }
}

#[tokio::test]
async fn klaviyo_trouble_gets_a_message_that_says_what_to_do() {
    let app = spawn_app_with(Options { klaviyo_tests_per_minute: 2, ..Options::default() }).await;
    klaviyo_account(&app, "ACCT01", 1);
    let merchant = app.merchant("Ana Shop").await;
    app.klaviyo.world.lock().expect("world").faults.server_error_rate = 1.0;
    let (status, error) = connect(&merchant, KEY, None).await.expect_err("Klaviyo down");
    assert_eq!((status.as_u16(), error.kind), (502, ErrorKind::Upstream));
    assert!(error.message.contains("nothing was changed"), "{error:?}");

    app.klaviyo.world.lock().expect("world").faults.server_error_rate = 0.0;
    app.klaviyo.world.lock().expect("world").faults.throttle_rate = 1.0;
    let (status, error) = connect(&merchant, KEY, None).await.expect_err("throttled");
    assert_eq!(status, 429);
    assert!(error.message.starts_with("Klaviyo is rate-limiting this account"), "{error:?}");

    app.klaviyo.world.lock().expect("world").faults.throttle_rate = 0.0;
    let (status, error) = connect(&merchant, KEY, None).await.expect_err("our own limit");
    assert_eq!(status, 429);
    assert!(error.message.contains("only a few key checks a minute"), "{error:?}");
}

#[tokio::test]
async fn a_saved_key_that_no_longer_opens_is_shown_so_it_can_be_replaced() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCT01", 1);
    let merchant = app.merchant("Ana Shop").await;
    connected(&merchant, KEY).await;
    // As if the server's secret key had changed: the sealed bytes no longer authenticate.
    let sql = "UPDATE klaviyo_connections SET key_sealed = $1";
    let garbage = vec![1_u8; 40];
    match &app.db {
        server::store::Db::Sqlite(pool) => sqlx::query(sql).bind(garbage).execute(pool).await.map(drop),
        server::store::Db::Postgres(pool) => sqlx::query(sql).bind(garbage).execute(pool).await.map(drop),
    }
    .expect("update");
    let status = overview(&merchant).await.connection.expect("still shown");
    assert!(status.key_problem.is_some_and(|p| p.contains("Paste the key again")));
    let (status, error) =
        merchant.call::<Vec<KlaviyoListView>>("klaviyo_lists", json!({})).await.expect_err("unreadable");
    assert_eq!(status, 409);
    assert!(error.message.contains("can no longer read the saved Klaviyo key"), "{error:?}");
    connected(&merchant, KEY).await;
    assert!(overview(&merchant).await.connection.expect("connected").key_problem.is_none(), "replaced");
}
