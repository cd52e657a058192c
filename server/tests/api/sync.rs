//! The Klaviyo sync end to end: approval → outbox → worker → fake Klaviyo → read-back, with what
//! the merchant sees (states, reasons, the call log, health), re-syncs that never regress consent,
//! retries through faults, and one merchant never reaching another's syncs.

use crate::helpers::{campaign_form, spawn_app, spawn_app_with, Browser, Options, TestApp};
use app::api::views::{AffiliateDetail, ApplicationView, ConnectOutcome, SyncHealth, SyncView};
use app::domain::klaviyo::{KeyScope, ScopeState};
use app::domain::{Drift, SyncState};
use fakes::klaviyo::world::Faults;
use fakes::klaviyo::{AccountSpec, KeySpec, ListSpec};
use serde_json::{json, Value};
use server::store::Db;
use std::time::{Duration, Instant};

const KEY: &str = "pk_live_syncsyncsyncsyncsyncsync0001";
const NO_SUBSCRIBE_WRITE: &str = "pk_live_nosubscribewritexxxxxxx0002";
const SINGLE: &str = "AFFIL1";
const DOUBLE: &str = "AFFDOI";

fn account(app: &TestApp) {
    let all = vec!["*".to_owned()];
    let no_write: Vec<String> = [
        "accounts:read",
        "lists:read",
        "lists:write",
        "profiles:read",
        "profiles:write",
        "subscriptions:read",
        "events:read",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    app.klaviyo.add_account(AccountSpec {
        id: Some("SYNC01".into()),
        name: "Sync Co".into(),
        test_account: false,
        keys: vec![
            KeySpec { key: KEY.into(), scopes: all },
            KeySpec { key: NO_SUBSCRIBE_WRITE.into(), scopes: no_write },
        ],
        lists: vec![
            ListSpec { id: Some(SINGLE.into()), name: "Affiliates".into(), double_opt_in: false },
            ListSpec { id: Some(DOUBLE.into()), name: "Affiliates DOI".into(), double_opt_in: true },
        ],
    });
}

/// A merchant connected with `key`, `list` as default, and an open campaign; returns its landing path.
async fn set_up(app: &TestApp, shop: &str, key: &str, list: &str) -> (Browser, String) {
    let merchant = app.merchant(shop).await;
    let outcome: ConnectOutcome =
        merchant.call("connect_klaviyo", json!({"key": key, "confirm_account_id": null})).await.expect("connects");
    assert!(matches!(outcome, ConnectOutcome::Connected(_)), "{outcome:?}");
    let _: Value = merchant.call("choose_default_list", json!({"list_id": list})).await.expect("list chosen");
    let campaign = merchant
        .create_campaign(campaign_form(
            json!({"name": "Trail Partners", "destination_url": "https://shop.example.com/"}),
        ))
        .await
        .expect("campaign");
    (merchant, campaign.landing_path)
}

async fn apply(merchant: &Browser, landing: &str, name: &str, email: &str) -> ApplicationView {
    let (status, body) = merchant
        .apply(landing, &[("name", name), ("email", email), ("accept_terms", "on"), ("terms_version", "1")])
        .await;
    assert!(status.is_success(), "{status}: {body}");
    merchant.find(&email.to_lowercase()).await
}

async fn approve(merchant: &Browser, who: &ApplicationView) {
    let outcome = merchant.decide(&[who.id], "approve").await.expect("approved");
    assert_eq!(outcome.changed.len(), 1);
}

async fn detail(merchant: &Browser, who: &ApplicationView) -> AffiliateDetail {
    merchant.call("affiliate_detail", json!({"id": who.id})).await.expect("detail loads")
}

/// Waits until the affiliate's sync reaches `state` (or fails the test with where it stood).
async fn wait_for(merchant: &Browser, who: &ApplicationView, state: SyncState) -> SyncView {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sync = detail(merchant, who).await.syncs.into_iter().next();
        if let Some(sync) = sync.as_ref().filter(|s| s.state == state) {
            return sync.clone();
        }
        assert!(Instant::now() < deadline, "{} never reached {state:?}; last {sync:?}", who.email);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn exec(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .expect("statement runs");
}

/// Requests the fake saw, as "METHOD /path" (query left out).
fn calls(app: &TestApp) -> Vec<String> {
    let world = app.klaviyo.world.lock().expect("world");
    world.log.iter().map(|e| format!("{} {}", e.method, e.path.split('?').next().unwrap_or(""))).collect()
}

fn clear_calls(app: &TestApp) {
    app.klaviyo.world.lock().expect("world").log.clear();
}

#[tokio::test]
async fn an_approval_lands_subscribed_in_the_list_with_names_and_properties_and_is_read_back() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Maria Silva", "Ana.Silva@Example.com").await;
    assert_eq!(ana.sync, None, "nothing is queued before approval");
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;

    {
        let world = app.klaviyo.world.lock().expect("world");
        let account = &world.accounts["SYNC01"];
        let profile = account.profile_by_email("ana.silva@example.com").expect("a profile");
        assert_eq!(profile.first_name.as_deref(), Some("Ana Maria"));
        assert_eq!(profile.last_name.as_deref(), Some("Silva"));
        assert_eq!(profile.consent, "SUBSCRIBED");
        assert_eq!(profile.custom_source.as_deref(), Some("Rekomi affiliate program"));
        assert_eq!(profile.properties.get("Rekomi affiliate"), Some(&json!(true)));
        assert_eq!(profile.properties.get("Rekomi campaign"), Some(&json!("Trail Partners")));
        let code = profile.properties.get("Rekomi referral code").and_then(Value::as_str).expect("code").to_owned();
        assert_eq!(
            profile.properties.get("Rekomi referral link"),
            Some(&json!(format!("{}/r/{code}", app.address))),
            "the tracked link, so clicks from emails count"
        );
        let portal = profile.properties.get("Rekomi portal").and_then(Value::as_str).expect("portal");
        assert!(portal.starts_with(&format!("{}/portal/", app.address)), "{portal}");
        assert_eq!(profile.properties.get("Rekomi commission"), Some(&json!("10% of each order")));
        assert_eq!(profile.properties.get("Rekomi status"), Some(&json!("active")));
        let approved = profile.properties.get("Rekomi approved at").and_then(Value::as_str).expect("date");
        assert!(approved.len() == 10 && approved.starts_with("20"), "{approved}");
        assert!(account.lists[SINGLE].members.contains_key(&profile.id), "in the chosen list");
        assert_eq!(account.profiles.len(), 1);
    }

    let log: Vec<String> = detail(&merchant, &ana).await.log.into_iter().rev().map(|e| e.endpoint).collect();
    for expected in [
        "GET /api/lists/{id}",
        "GET /api/profiles",
        "POST /api/profile-import",
        "POST /api/profile-subscription-bulk-create-jobs",
        "GET /api/lists/{id}/profiles",
    ] {
        assert!(log.iter().any(|e| e == expected), "{expected} missing from the log {log:?}");
    }
    // The write permissions a subscribe needs are now proven by the sync; Events Full is proven by
    // the approval's lifecycle event once it is sent (it may still be on its way).
    let status: app::api::views::KlaviyoOverview = merchant.call("klaviyo_status", json!({})).await.expect("status");
    let checks = status.connection.expect("connected").checks;
    let states: Vec<_> = checks.iter().map(|c| (c.scope, c.state)).collect();
    assert!(
        states.iter().all(|(scope, state)| *state == ScopeState::Verified || *scope == KeyScope::EventsFull),
        "{checks:?}"
    );
    assert!(
        states.contains(&(KeyScope::EventsFull, ScopeState::ReadVerifiedWritePending))
            || states.contains(&(KeyScope::EventsFull, ScopeState::Verified)),
        "{checks:?}"
    );
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!((health.succeeded, health.failed, health.queued, health.in_flight), (1, 0, 0, 0));
}

#[tokio::test]
async fn a_resync_reads_first_and_never_duplicates_or_regresses_consent() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    let bo = apply(&merchant, &landing, "Bo Lind", "bo@example.com").await;
    let cy = apply(&merchant, &landing, "Cy Park", "cy@example.com").await;
    {
        // Bo already subscribed through another list; Cy unsubscribed from the shop's mail.
        let mut world = app.klaviyo.world.lock().expect("world");
        let account = world.accounts.get_mut("SYNC01").expect("account");
        for (email, consent, suppressions) in [
            ("bo@example.com", "SUBSCRIBED", vec![]),
            ("cy@example.com", "UNSUBSCRIBED", vec!["UNSUBSCRIBE".to_owned()]),
        ] {
            let (id, _) =
                account.upsert(&fakes::klaviyo::world::ProfileUpsert { email: email.into(), ..Default::default() });
            let profile = account.profiles.get_mut(&id).expect("profile");
            profile.consent = consent.into();
            profile.suppressions = suppressions;
        }
    }
    clear_calls(&app);
    merchant.decide(&[ana.id, bo.id, cy.id], "approve").await.expect("approved");
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    wait_for(&merchant, &bo, SyncState::Succeeded).await;
    let blocked = wait_for(&merchant, &cy, SyncState::Blocked).await;
    assert!(blocked.reason.as_deref().is_some_and(|r| r.contains("never re-subscribes")), "{blocked:?}");

    let sent = calls(&app);
    // One subscribe job (for Ana only), Bo added to the list without a new consent, Cy untouched.
    assert_eq!(sent.iter().filter(|c| c.ends_with("profile-subscription-bulk-create-jobs")).count(), 1, "{sent:?}");
    assert_eq!(
        sent.iter().filter(|c| c.starts_with("POST /api/lists/") && c.ends_with("/relationships/profiles")).count(),
        1
    );
    {
        let world = app.klaviyo.world.lock().expect("world");
        let account = &world.accounts["SYNC01"];
        let cy = account.profile_by_email("cy@example.com").expect("cy");
        assert_eq!(cy.consent, "UNSUBSCRIBED", "an opt-out is never reversed");
        assert!(!account.lists[SINGLE].members.contains_key(&cy.id));
        assert_eq!(account.profiles.len(), 3, "no duplicate profiles");
        let bo = account.profile_by_email("bo@example.com").expect("bo");
        assert!(account.lists[SINGLE].members.contains_key(&bo.id));
    }

    // Sync again (as after a restart mid-sync): everything is in place, so nothing is written.
    clear_calls(&app);
    exec(&app.db, "UPDATE klaviyo_syncs SET state = 'queued', due_at = 0").await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    wait_for(&merchant, &bo, SyncState::Succeeded).await;
    wait_for(&merchant, &cy, SyncState::Blocked).await;
    let writes: Vec<String> = calls(&app).into_iter().filter(|c| !c.starts_with("GET")).collect();
    assert_eq!(writes, Vec::<String>::new(), "a re-sync with nothing new sends nothing");
}

#[tokio::test]
async fn a_double_opt_in_list_shows_awaiting_confirmation_until_the_affiliate_confirms() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, DOUBLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    let waiting = wait_for(&merchant, &ana, SyncState::AwaitingConfirmation).await;
    assert!(waiting.reason.as_deref().is_some_and(|r| r.contains("confirmation")), "{waiting:?}");
    assert!(waiting.next_at.is_some(), "confirmation is checked again later");

    assert!(app
        .klaviyo
        .world
        .lock()
        .expect("world")
        .accounts
        .get_mut("SYNC01")
        .expect("acct")
        .confirm(DOUBLE, "ana@example.com"));
    exec(&app.db, "UPDATE klaviyo_syncs SET due_at = 0").await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
}

#[tokio::test]
async fn a_missing_write_permission_fails_with_its_name_and_is_recorded_on_the_connection() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", NO_SUBSCRIBE_WRITE, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    let failed = wait_for(&merchant, &ana, SyncState::Failed).await;
    let reason = failed.reason.expect("a reason");
    assert!(reason.contains("Subscriptions Full"), "{reason}");
    let status: app::api::views::KlaviyoOverview = merchant.call("klaviyo_status", json!({})).await.expect("status");
    let checks = status.connection.expect("connected").checks;
    let subscriptions = checks.iter().find(|c| c.scope == KeyScope::SubscriptionsFull).expect("listed");
    assert_eq!(subscriptions.state, ScopeState::Missing);
    // The profile import before the subscribe was accepted: that permission is proven, not suspect.
    let profiles = checks.iter().find(|c| c.scope == KeyScope::ProfilesFull).expect("listed");
    assert_eq!(profiles.state, ScopeState::Verified, "{checks:?}");
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!(health.failed, 1);
    assert!(health.last_error.is_some_and(|e| e.contains("Subscriptions Full")));
    let log = detail(&merchant, &ana).await.log;
    assert!(
        log.iter().any(|e| e.status == Some(403) && e.error_code.as_deref() == Some("permission_denied")),
        "{log:?}"
    );
}

#[tokio::test]
async fn throttling_and_outages_are_retried_until_the_sync_succeeds() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    app.klaviyo.world.lock().expect("world").faults =
        Faults { job_delay_ms: 0, throttle_rate: 0.3, server_error_rate: 0.2, ..Faults::default() };
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    app.klaviyo.world.lock().expect("world").faults = Faults { job_delay_ms: 0, ..Faults::default() };
    let log = detail(&merchant, &ana).await.log;
    assert!(log.iter().all(|e| e.status.is_some()), "every call is logged with its status");
    let world = app.klaviyo.world.lock().expect("world");
    assert_eq!(world.accounts["SYNC01"].profiles.len(), 1);
}

#[tokio::test]
async fn a_job_klaviyo_never_applies_is_resent_then_fails_visibly_and_retry_now_finishes_it() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    app.klaviyo.world.lock().expect("world").faults =
        Faults { job_delay_ms: 0, jobs_never_apply: true, ..Faults::default() };
    approve(&merchant, &ana).await;
    let failed = wait_for(&merchant, &ana, SyncState::Failed).await;
    assert!(failed.reason.as_deref().is_some_and(|r| r.contains("never applied")), "{failed:?}");
    assert_eq!(failed.attempts, 3, "sent three times (the test's limit)");
    let subscribes = calls(&app).iter().filter(|c| c.ends_with("profile-subscription-bulk-create-jobs")).count();
    assert_eq!(subscribes, 3);

    app.klaviyo.world.lock().expect("world").faults = Faults { job_delay_ms: 0, ..Faults::default() };
    let _: Vec<SyncView> = merchant.call("retry_sync", json!({"affiliate": ana.id})).await.expect("retried");
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    // Nothing left to retry now.
    let (status, _) = merchant.call::<Vec<SyncView>>("retry_sync", json!({"affiliate": ana.id})).await.expect_err("no");
    assert_eq!(status, reqwest::StatusCode::CONFLICT);
}

#[tokio::test]
async fn affiliates_approved_before_klaviyo_was_connected_are_synced_with_sync_all_approved() {
    let app = spawn_app().await;
    account(&app);
    let merchant = app.merchant("Trail Shop").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("campaign");
    let ana = apply(&merchant, &campaign.landing_path, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    assert_eq!(merchant.find("ana@example.com").await.sync, None, "no list yet, so nothing queued");
    let (status, error) = merchant.call::<u64>("sync_all_approved", json!({})).await.expect_err("not set up");
    assert_eq!(status, reqwest::StatusCode::CONFLICT);
    assert!(error.message.contains("Connect Klaviyo"));

    let _: ConnectOutcome =
        merchant.call("connect_klaviyo", json!({"key": KEY, "confirm_account_id": null})).await.expect("ok");
    let _: Value = merchant.call("choose_default_list", json!({"list_id": SINGLE})).await.expect("list");
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!(health.unsynced, 1);
    let queued: u64 = merchant.call("sync_all_approved", json!({})).await.expect("queued");
    assert_eq!(queued, 1);
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    let again: u64 = merchant.call("sync_all_approved", json!({})).await.expect("nothing new");
    assert_eq!(again, 0);
}

#[tokio::test]
async fn the_outbox_row_commits_with_the_approval_and_waits_for_a_worker() {
    let options =
        Options { sync: server::outbox::Settings { worker: false, ..Options::default().sync }, ..Options::default() };
    let app = spawn_app_with(options).await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    let queued = merchant.find("ana@example.com").await.sync.expect("queued with the approval");
    assert_eq!((queued.state, queued.list_id.as_str()), (SyncState::Queued, SINGLE));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(calls(&app).iter().all(|c| !c.contains("subscription")), "no worker, no Klaviyo call");
}

#[tokio::test]
async fn no_consent_means_the_profile_is_written_without_a_subscription() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    // As an imported affiliate without a consent record would be.
    exec(&app.db, "UPDATE affiliates SET consent_at = NULL, consent_terms_version = NULL").await;
    approve(&merchant, &ana).await;
    let blocked = wait_for(&merchant, &ana, SyncState::Blocked).await;
    assert!(blocked.reason.as_deref().is_some_and(|r| r.contains("No consent")));
    let world = app.klaviyo.world.lock().expect("world");
    let profile = world.accounts["SYNC01"].profile_by_email("ana@example.com").expect("written");
    assert_eq!(profile.consent, "NEVER_SUBSCRIBED");
    assert_eq!(profile.first_name.as_deref(), Some("Ana"));
}

#[tokio::test]
async fn another_merchant_cannot_see_or_retry_a_sync() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    let other = app.merchant("Other Shop").await;
    let (status, _) =
        other.call::<AffiliateDetail>("affiliate_detail", json!({"id": ana.id})).await.expect_err("hidden");
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let (status, _) = other.call::<Vec<SyncView>>("retry_sync", json!({"affiliate": ana.id})).await.expect_err("no");
    assert_eq!(status, reqwest::StatusCode::CONFLICT);
    let health: SyncHealth = other.call("sync_health", json!({})).await.expect("health");
    assert_eq!(health, SyncHealth::default());
}

#[tokio::test]
async fn the_live_feed_streams_sync_changes_to_the_signed_in_merchant_only() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let anonymous = app.browser().client.get(app.url("/api/sync/events")).send().await.expect("answers");
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);

    let mut feed = merchant.client.get(app.url("/api/sync/events")).send().await.expect("feed opens");
    assert_eq!(feed.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/event-stream"));
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while !text.contains("\"state\":\"succeeded\"") {
        assert!(Instant::now() < deadline, "no succeeded event in {text}");
        let chunk = tokio::time::timeout(Duration::from_secs(5), feed.chunk()).await.expect("events flow");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("reads").expect("open")));
    }
    assert!(text.contains("event: sync"));
    assert!(text.contains(&format!("\"affiliate_id\":{}", ana.id)), "{text}");

    // One sign-in holds a few feeds (a few tabs), not an unbounded number.
    let mut open = vec![feed];
    for _ in 1..server::routes::sync_events::MAX_PER_SESSION {
        let more = merchant.client.get(app.url("/api/sync/events")).send().await.expect("feed opens");
        assert_eq!(more.status(), reqwest::StatusCode::OK);
        open.push(more);
    }
    let refused = merchant.client.get(app.url("/api/sync/events")).send().await.expect("answers");
    assert_eq!(refused.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.text().await.expect("text").contains("close a tab"));
    // Another merchant's sign-in has slots of its own.
    let other = app.merchant("Other Shop").await;
    let theirs = other.client.get(app.url("/api/sync/events")).send().await.expect("answers");
    assert_eq!(theirs.status(), reqwest::StatusCode::OK);
    drop(open);
}

#[tokio::test]
async fn a_list_deleted_in_klaviyo_fails_the_sync_with_what_to_do_and_retry_recovers_it() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    let removed =
        app.klaviyo.world.lock().expect("world").accounts.get_mut("SYNC01").expect("acct").lists.remove(SINGLE);
    approve(&merchant, &ana).await;
    let failed = wait_for(&merchant, &ana, SyncState::Failed).await;
    assert!(failed.reason.as_deref().is_some_and(|r| r.contains("AFFIL1 no longer exists")), "{failed:?}");
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert!(health.last_error.is_some_and(|e| e.contains("no longer exists")));

    let list = removed.expect("the list existed");
    app.klaviyo
        .world
        .lock()
        .expect("world")
        .accounts
        .get_mut("SYNC01")
        .expect("acct")
        .lists
        .insert(SINGLE.into(), list);
    let _: Vec<SyncView> = merchant.call("retry_sync", json!({"affiliate": ana.id})).await.expect("retried");
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
}

#[tokio::test]
async fn a_500_from_klaviyo_is_retried_and_does_not_end_the_sync() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    // More than one attempt's in-place retries (the approval event shares them): the row must be
    // rescheduled, not failed.
    app.klaviyo.world.lock().expect("world").faults.internal_errors_next = 10;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    let log = detail(&merchant, &ana).await.log;
    assert!(log.iter().any(|e| e.status == Some(500)), "the 500s are in the affiliate's log: {log:?}");
}

/// The fake account's view of one email: (in the list, consent, `Rekomi affiliate`, `Rekomi status`).
fn in_klaviyo(app: &TestApp, email: &str, list: &str) -> (bool, String, Value, Value) {
    let world = app.klaviyo.world.lock().expect("world");
    let account = world.accounts.get("SYNC01").expect("account");
    let id = account.by_email.get(email).expect("profile exists").clone();
    let profile = account.profiles.get(&id).expect("profile");
    let member = account.lists.get(list).expect("list").members.contains_key(&id);
    (
        member,
        profile.consent.clone(),
        profile.properties.get("Rekomi affiliate").cloned().unwrap_or(Value::Null),
        profile.properties.get("Rekomi status").cloned().unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn disabling_takes_the_affiliate_out_of_the_list_and_enabling_brings_them_back_with_consent_untouched() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert_eq!(
        in_klaviyo(&app, "ana@example.com", SINGLE),
        (true, "SUBSCRIBED".to_owned(), json!(true), json!("active"))
    );

    let outcome: app::api::views::DecisionOutcome = merchant
        .call("decide_applications", json!({"ids": [ana.id], "decision": "disable", "note": "Bidding on our brand"}))
        .await
        .expect("disabled");
    assert_eq!(outcome.changed.first().map(|a| a.state), Some(app::domain::AffiliateState::Disabled));
    let left = wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert!(left.leaving && left.label() == "Out of the list", "{left:?}");
    assert_eq!(
        in_klaviyo(&app, "ana@example.com", SINGLE),
        (false, "SUBSCRIBED".to_owned(), json!(false), json!("disabled")),
        "out of the list, the properties say so, and the consent is the person's own"
    );
    let disabled = crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Disabled", 1).await;
    assert_eq!(disabled[0]["properties"]["reason"], "Bidding on our brand", "{disabled:?}");
    let history = detail(&merchant, &ana).await.audit;
    assert!(
        history.iter().any(|e| e.action == "disabled" && e.note.as_deref() == Some("Bidding on our brand")),
        "{history:?}"
    );
    // A second disable changes nothing and says why.
    let again = merchant.decide(&[ana.id], "disable").await.expect("answered");
    assert!(again.changed.is_empty() && again.skipped.len() == 1, "{again:?}");

    let outcome = merchant.decide(&[ana.id], "enable").await.expect("enabled");
    assert_eq!(outcome.changed.first().map(|a| a.state), Some(app::domain::AffiliateState::Approved));
    let back = wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert!(!back.leaving, "{back:?}");
    assert_eq!(
        in_klaviyo(&app, "ana@example.com", SINGLE),
        (true, "SUBSCRIBED".to_owned(), json!(true), json!("active"))
    );
}

#[tokio::test]
async fn a_disabled_affiliate_who_unsubscribed_meanwhile_is_not_resubscribed_when_enabled() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    merchant.decide(&[ana.id], "disable").await.expect("disabled");
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    {
        let mut world = app.klaviyo.world.lock().expect("world");
        let account = world.accounts.get_mut("SYNC01").expect("account");
        let id = account.by_email.get("ana@example.com").expect("profile").clone();
        let profile = account.profiles.get_mut(&id).expect("profile");
        profile.consent = "UNSUBSCRIBED".into();
        profile.suppressions = vec!["UNSUBSCRIBE".into()];
    }
    merchant.decide(&[ana.id], "enable").await.expect("enabled");
    let blocked = wait_for(&merchant, &ana, SyncState::Blocked).await;
    assert!(blocked.reason.as_deref().is_some_and(|r| r.contains("never re-subscribes")), "{blocked:?}");
    let (member, consent, ..) = in_klaviyo(&app, "ana@example.com", SINGLE);
    assert!(!member && consent == "UNSUBSCRIBED");
}

#[tokio::test]
async fn re_sync_writes_a_succeeded_affiliate_again_and_reads_it_back() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    let bo = apply(&merchant, &landing, "Bo Lind", "bo@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    // Someone edits the profile and the list by hand in Klaviyo.
    {
        let mut world = app.klaviyo.world.lock().expect("world");
        let account = world.accounts.get_mut("SYNC01").expect("account");
        let id = account.by_email.get("ana@example.com").expect("profile").clone();
        account.profiles.get_mut(&id).expect("profile").properties.remove("Rekomi referral code");
        account.lists.get_mut(SINGLE).expect("list").members.remove(&id);
    }
    // Bo is still pending: a re-sync leaves him alone.
    let queued: u64 = merchant.call("resync_affiliates", json!({"ids": [ana.id, bo.id]})).await.expect("queued");
    assert_eq!(queued, 1);
    let done = wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert!(!done.leaving);
    let world = app.klaviyo.world.lock().expect("world");
    let account = world.accounts.get("SYNC01").expect("account");
    let id = account.by_email.get("ana@example.com").expect("profile");
    assert!(account.profiles[id].properties.contains_key("Rekomi referral code"), "the property is written again");
    assert!(account.lists[SINGLE].members.contains_key(id), "back in the list");
    drop(world);
    assert!(detail(&merchant, &bo).await.syncs.is_empty(), "a pending applicant is not synced");
}

#[tokio::test]
async fn a_subscribe_applied_after_the_disable_is_taken_out_again() {
    let app = spawn_app().await;
    account(&app);
    // Klaviyo applies accepted jobs slowly: the subscribe lands after the disable.
    app.klaviyo.world.lock().expect("world").faults.job_delay_ms = 1_500;
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Verifying).await;
    merchant.decide(&[ana.id], "disable").await.expect("disabled");
    let done = wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert!(done.leaving, "{done:?}");
    let (member, consent, affiliate, _) = in_klaviyo(&app, "ana@example.com", SINGLE);
    assert!(!member, "the late subscribe put them in the list; the leaving sync took them out again");
    assert_eq!((consent.as_str(), affiliate), ("SUBSCRIBED", json!(false)));
}

/// The property `name` on `email`'s profile in the fake account.
fn property(app: &TestApp, email: &str, name: &str) -> Value {
    let world = app.klaviyo.world.lock().expect("world");
    let account = &world.accounts["SYNC01"];
    let profile = account.profile_by_email(email).expect("a profile");
    profile.properties.get(name).cloned().unwrap_or(Value::Null)
}

async fn wait_for_property(app: &TestApp, email: &str, name: &str, expected: Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while property(app, email, name) != expected {
        assert!(Instant::now() < deadline, "{name} is {:?}, not {expected:?}", property(app, email, name));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_changed_rate_or_campaign_is_written_on_the_profile_again() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert_eq!(property(&app, "ana@example.com", "Rekomi commission"), json!("10% of each order"));

    let _: Value = merchant
        .call("set_affiliate_terms", json!({"id": ana.id, "form": {"coupon_code": "", "rate_override": "12.5"}}))
        .await
        .expect("rate set");
    wait_for_property(&app, "ana@example.com", "Rekomi commission", json!("12.5% of each order")).await;

    let campaign = ana.campaign_id;
    let _: Value = merchant
        .call(
            "update_campaign",
            json!({"id": campaign, "form": campaign_form(json!({
                "name": "Trail Partners Club", "destination_url": "https://shop.example.com/"
            }))}),
        )
        .await
        .expect("campaign updated");
    wait_for_property(&app, "ana@example.com", "Rekomi campaign", json!("Trail Partners Club")).await;
    // Only what changed was written: the subscription and list membership were not sent again.
    let log = calls(&app);
    let subscribes = log.iter().filter(|c| c.contains("profile-subscription-bulk-create-jobs")).count();
    assert_eq!(subscribes, 1, "{log:?}");
}

/// Something done in Klaviyo's own screens, through the fake's control panel.
fn in_klaviyo_someone(app: &TestApp, action: Value) {
    let action: fakes::klaviyo::PersonAction = serde_json::from_value(action).expect("an action");
    let mut world = app.klaviyo.world.lock().expect("world");
    assert!(world.accounts.get_mut("SYNC01").expect("account").person_acts(action), "the fake knew the profile");
}

/// Waits until the affiliate's sync shows `drift` (None: no drift and in the list).
async fn wait_for_drift(merchant: &Browser, who: &ApplicationView, drift: Option<Drift>) -> SyncView {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sync = detail(merchant, who).await.syncs.into_iter().next();
        let settled = |s: &SyncView| !s.state.in_progress() && s.drift == drift;
        if let Some(sync) = sync.as_ref().filter(|s| settled(s)) {
            return sync.clone();
        }
        assert!(Instant::now() < deadline, "{} never showed {drift:?}; last {sync:?}", who.email);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_check_finds_what_changed_in_klaviyo_shows_it_and_never_undoes_it() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let mut people = Vec::new();
    for (name, email) in [
        ("Ana Silva", "ana@example.com"),
        ("Bo Lind", "bo@example.com"),
        ("Cy Park", "cy@example.com"),
        ("Dee Moss", "dee@example.com"),
        ("Eli Stone", "eli@example.com"),
    ] {
        let who = apply(&merchant, &landing, name, email).await;
        approve(&merchant, &who).await;
        people.push(who);
    }
    for who in &people {
        wait_for(&merchant, who, SyncState::Succeeded).await;
    }
    let [ana, bo, cy, dee, eli] = &people[..] else { unreachable!() };

    in_klaviyo_someone(&app, json!({"action": "unsubscribe", "email": "ana@example.com"}));
    in_klaviyo_someone(&app, json!({"action": "remove_from_list", "email": "bo@example.com", "list_id": SINGLE}));
    in_klaviyo_someone(&app, json!({"action": "suppress", "email": "cy@example.com", "reason": "HARD_BOUNCE"}));
    in_klaviyo_someone(&app, json!({"action": "delete", "email": "dee@example.com"}));
    clear_calls(&app);
    let _: SyncHealth = merchant.call("check_klaviyo_now", json!({})).await.expect("check queued");

    let unsubscribed = wait_for_drift(&merchant, ana, Some(Drift::Unsubscribed)).await;
    assert_eq!(unsubscribed.state, SyncState::Blocked);
    assert_eq!(unsubscribed.label(), "Unsubscribed in Klaviyo");
    assert!(unsubscribed.drift_at.is_some() && unsubscribed.checked_at.is_some(), "{unsubscribed:?}");
    wait_for_drift(&merchant, bo, Some(Drift::Removed)).await;
    wait_for_drift(&merchant, cy, Some(Drift::Suppressed)).await;
    wait_for_drift(&merchant, dee, Some(Drift::Deleted)).await;
    let unchanged = wait_for_drift(&merchant, eli, None).await;
    assert_eq!(unchanged.state, SyncState::Succeeded);
    // Reads only, 100 to a call: nothing was written to Klaviyo.
    let log = calls(&app);
    assert!(log.iter().all(|c| c.starts_with("GET ")), "the check only reads: {log:?}");

    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!(health.drifted, 4, "{health:?}");
    assert!(health.checked_at.is_some() && health.next_check_at.is_some(), "{health:?}");
    let filtered = merchant
        .queue(app::api::views::QueueFilter {
            state: Some(app::domain::AffiliateState::Approved),
            drift: true,
            ..Default::default()
        })
        .await;
    let mut emails: Vec<&str> = filtered.items.iter().map(|a| a.email.as_str()).collect();
    emails.sort_unstable();
    assert_eq!(emails, ["ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com"]);

    // A change Rekomi writes (the campaign's name) goes out to everyone, and undoes nothing: Bo
    // stays out of the list, Dee's profile is not created again, Ana stays unsubscribed.
    let _: Value = merchant
        .call(
            "update_campaign",
            json!({"id": ana.campaign_id, "form": campaign_form(json!({
                "name": "Trail Partners Club", "destination_url": "https://shop.example.com/"
            }))}),
        )
        .await
        .expect("campaign updated");
    wait_for_property(&app, "eli@example.com", "Rekomi campaign", json!("Trail Partners Club")).await;
    wait_for_property(&app, "bo@example.com", "Rekomi campaign", json!("Trail Partners Club")).await;
    wait_for_drift(&merchant, bo, Some(Drift::Removed)).await;
    wait_for_drift(&merchant, dee, Some(Drift::Deleted)).await;
    wait_for_drift(&merchant, ana, Some(Drift::Unsubscribed)).await;
    assert!(!in_klaviyo(&app, "bo@example.com", SINGLE).0, "Bo was not added back");
    assert!(app.klaviyo.world.lock().expect("world").accounts["SYNC01"].profile_by_email("dee@example.com").is_none());
    assert_eq!(in_klaviyo(&app, "ana@example.com", SINGLE).1, "UNSUBSCRIBED");

    // The merchant decides the removal was a mistake: "Re-sync" adds Bo back, consent untouched.
    let queued: u64 = merchant.call("resync_affiliates", json!({"ids": [bo.id]})).await.expect("re-sync");
    assert_eq!(queued, 1);
    wait_for_drift(&merchant, bo, None).await;
    assert_eq!(in_klaviyo(&app, "bo@example.com", SINGLE).0, true);

    // Ana subscribes again through the merchant's own form: the next check sees her back.
    in_klaviyo_someone(&app, json!({"action": "resubscribe", "email": "ana@example.com", "list_id": SINGLE}));
    let _: SyncHealth = merchant.call("check_klaviyo_now", json!({})).await.expect("check queued");
    let back = wait_for_drift(&merchant, ana, None).await;
    assert_eq!(back.state, SyncState::Succeeded);
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!(health.drifted, 2, "Cy and Dee: {health:?}");
}

#[tokio::test]
async fn a_sync_that_finds_someone_gone_from_the_list_records_it_instead_of_adding_them_back() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    in_klaviyo_someone(&app, json!({"action": "remove_from_list", "email": "ana@example.com", "list_id": SINGLE}));
    // A rate change re-sends her profile before any check ran.
    let _: Value = merchant
        .call("set_affiliate_terms", json!({"id": ana.id, "form": {"coupon_code": "", "rate_override": "12.5"}}))
        .await
        .expect("rate set");
    wait_for_property(&app, "ana@example.com", "Rekomi commission", json!("12.5% of each order")).await;
    let removed = wait_for_drift(&merchant, &ana, Some(Drift::Removed)).await;
    assert_eq!(removed.state, SyncState::Blocked);
    assert!(!in_klaviyo(&app, "ana@example.com", SINGLE).0, "not added back");
    let log = calls(&app);
    assert!(!log.iter().any(|c| c.contains("relationships/profiles") && c.starts_with("POST")), "{log:?}");
}

#[tokio::test]
async fn the_check_reads_a_thousand_affiliates_100_per_call_and_leaves_another_merchants_alone() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let other = app.merchant("Other Shop").await;
    let mut ids = Vec::new();
    for i in 0..250 {
        let email = format!("p{i:04}@example.com");
        let who = apply(&merchant, &landing, "Pat Doe", &email).await;
        ids.push(who.id);
    }
    let outcome = merchant.decide(&ids, "approve").await.expect("approved");
    assert_eq!(outcome.changed.len(), 250);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
        if health.succeeded == 250 {
            break;
        }
        assert!(Instant::now() < deadline, "{health:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    in_klaviyo_someone(&app, json!({"action": "unsubscribe", "email": "p0123@example.com"}));
    clear_calls(&app);
    let _: SyncHealth = merchant.call("check_klaviyo_now", json!({})).await.expect("check queued");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
        if health.drifted == 1 && health.checking.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "{health:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = calls(&app);
    let members = log.iter().filter(|c| c.contains("/api/lists/") && c.ends_with("/profiles")).count();
    assert_eq!(members, 3, "250 affiliates in 3 reads of the list: {log:?}");
    let profiles = log.iter().filter(|c| c.as_str() == "GET /api/profiles").count();
    assert_eq!(profiles, 0, "an unsubscribed member is read with the list: {log:?}");
    // The other merchant (not connected) sees nothing of it, and cannot start a check.
    let (_, err) = other.call::<SyncHealth>("check_klaviyo_now", json!({})).await.expect_err("not set up");
    assert!(err.message.contains("Connect Klaviyo"), "{err:?}");
}

#[tokio::test]
async fn banning_takes_the_affiliate_out_for_good_and_keeps_their_email_and_address_from_applying() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;

    let (status, err) = merchant
        .call::<app::api::views::DecisionOutcome>(
            "ban_affiliates",
            json!({"ids": [ana.id], "reason": "  ", "block_address": true}),
        )
        .await
        .expect_err("a ban needs a reason");
    assert_eq!(status.as_u16(), 422, "{err:?}");
    assert!(err.message.contains("Say why"), "{err:?}");

    let outcome: app::api::views::DecisionOutcome = merchant
        .call(
            "ban_affiliates",
            json!({"ids": [ana.id], "reason": "Coupon leaked to deal sites", "block_address": true}),
        )
        .await
        .expect("banned");
    assert_eq!(outcome.changed.first().map(|a| a.state), Some(app::domain::AffiliateState::Banned));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sync = detail(&merchant, &ana).await.syncs.into_iter().next().expect("a sync");
        if sync.leaving && sync.state == SyncState::Succeeded {
            assert_eq!(sync.label(), "Out of the list");
            break;
        }
        assert!(Instant::now() < deadline, "never left the list: {sync:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        in_klaviyo(&app, "ana@example.com", SINGLE),
        (false, "SUBSCRIBED".to_owned(), json!(false), json!("banned")),
        "out of the list, marked banned, consent untouched"
    );
    let banned = crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Banned", 1).await;
    assert!(banned[0]["properties"].get("reason").is_none(), "the reason stays with the merchant: {banned:?}");
    let history = detail(&merchant, &ana).await.audit;
    assert!(
        history.iter().any(|e| e.action == "banned" && e.note.as_deref() == Some("Coupon leaked to deal sites")),
        "{history:?}"
    );

    // Neither her email nor (she was banned with it) the address she applied from gets in again.
    let (status, body) = merchant
        .apply(
            &landing,
            &[("name", "Ana S"), ("email", "ana@example.com"), ("accept_terms", "on"), ("terms_version", "1")],
        )
        .await;
    assert_eq!(status.as_u16(), 403, "{body}");
    let (status, body) = merchant
        .apply(
            &landing,
            &[("name", "Ana Two"), ("email", "ana.two@example.com"), ("accept_terms", "on"), ("terms_version", "1")],
        )
        .await;
    assert_eq!(status.as_u16(), 403, "{body}");
    assert!(body.contains("doesn&#x27;t accept") || body.contains("doesn't accept"), "{body}");

    // Lifting the ban brings her back, with the consent she has in Klaviyo, and lets the address apply.
    let outcome = merchant.decide(&[ana.id], "enable").await.expect("enabled");
    assert_eq!(outcome.changed.first().map(|a| a.state), Some(app::domain::AffiliateState::Approved));
    let back = wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert!(!back.leaving, "{back:?}");
    assert_eq!(
        in_klaviyo(&app, "ana@example.com", SINGLE),
        (true, "SUBSCRIBED".to_owned(), json!(true), json!("active"))
    );
    let (status, body) = merchant
        .apply(
            &landing,
            &[("name", "Ana Two"), ("email", "ana.two@example.com"), ("accept_terms", "on"), ("terms_version", "1")],
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
}

/// (bulk calls, single event calls naming `metric`, their statuses) the fake saw.
fn event_calls(app: &TestApp, metric: &str) -> (Vec<u16>, Vec<u16>) {
    let world = app.klaviyo.world.lock().expect("world");
    let bulk =
        world.log.iter().filter(|e| e.path.starts_with("/api/event-bulk-create-jobs")).map(|e| e.status).collect();
    let single = world
        .log
        .iter()
        .filter(|e| e.path.starts_with("/api/events") && e.method == "POST")
        .filter(|e| {
            e.body.as_ref().is_some_and(|b| b["data"]["attributes"]["metric"]["data"]["attributes"]["name"] == metric)
        })
        .map(|e| e.status)
        .collect();
    (bulk, single)
}

#[tokio::test]
async fn lifecycle_events_go_out_in_bulk_and_a_refused_batch_is_sent_event_by_event() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(apply(&merchant, &landing, "Pat Doe", &format!("p{i:02}@example.com")).await.id);
    }
    crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Applied", 40).await;
    clear_calls(&app);

    merchant.decide(&ids, "approve").await.expect("approved");
    let approved = crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Approved", 40).await;
    assert_eq!(approved.len(), 40);
    let (bulk, single) = event_calls(&app, "Rekomi Affiliate Approved");
    assert_eq!((bulk, single.len()), (vec![202], 0), "forty approvals, one call");
    assert!(approved.iter().all(|e| e["unique_id"].as_str().is_some_and(|u| u.starts_with("approved:"))));

    // Klaviyo refuses one event: the batch is refused whole, and sent again event by event, so the
    // thirty-nine others arrive and only the bad one fails.
    app.klaviyo.world.lock().expect("world").faults.refuse_events_for = Some("p07@example.com".into());
    clear_calls(&app);
    let outcome: app::api::views::DecisionOutcome = merchant
        .call("decide_applications", json!({"ids": ids, "decision": "disable", "note": null}))
        .await
        .expect("disabled");
    assert_eq!(outcome.changed.len(), 40);
    let disabled = crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Disabled", 39).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(disabled.len(), 39);
    assert!(!disabled.iter().any(|e| e["profile"]["data"]["attributes"]["email"] == "p07@example.com"));
    let (bulk, single) = event_calls(&app, "Rekomi Affiliate Disabled");
    assert_eq!(bulk, vec![400], "the batch was refused once");
    assert_eq!(single.len(), 40, "{single:?}");
    assert_eq!(single.iter().filter(|s| **s == 400).count(), 1);
}

#[tokio::test]
async fn events_of_a_disconnected_klaviyo_are_kept_and_sent_on_reconnect_or_dropped_if_the_merchant_says_so() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    let bo = apply(&merchant, &landing, "Bo Lind", "bo@example.com").await;
    crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Applied", 2).await;
    let _: Value = merchant.call("disconnect_klaviyo", json!({})).await.expect("disconnected");

    approve(&merchant, &ana).await;
    let view: app::api::views::IntegrationsView = merchant.call("integrations", json!({})).await.expect("view");
    assert!(!view.klaviyo_connected && view.klaviyo_was_connected && view.keep_events_offline, "{view:?}");
    assert_eq!(view.kept_events, 1, "{view:?}");
    assert!(view.kept_since.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(crate::invites::events(&app, "SYNC01", "Rekomi Affiliate Approved").await.is_empty(), "nothing sent");

    // Connected again: the kept approval reaches Klaviyo.
    let outcome: ConnectOutcome =
        merchant.call("connect_klaviyo", json!({"key": KEY, "confirm_account_id": null})).await.expect("connects");
    assert!(matches!(outcome, ConnectOutcome::Connected(_)), "{outcome:?}");
    let sent = crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Approved", 1).await;
    assert_eq!(sent[0]["profile"]["data"]["attributes"]["email"], "ana@example.com");

    // The merchant chooses not to keep them: what happens while disconnected is dropped, visibly.
    let _: Value = merchant.call("disconnect_klaviyo", json!({})).await.expect("disconnected");
    approve(&merchant, &bo).await;
    let view: app::api::views::IntegrationsView = merchant.call("integrations", json!({})).await.expect("view");
    assert_eq!(view.kept_events, 1);
    let view: app::api::views::IntegrationsView =
        merchant.call("keep_events_offline", json!({"keep": false})).await.expect("saved");
    assert_eq!((view.keep_events_offline, view.kept_events, view.dropped_events), (false, 0, 1), "{view:?}");
    let _: ConnectOutcome =
        merchant.call("connect_klaviyo", json!({"key": KEY, "confirm_account_id": null})).await.expect("connects");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(crate::invites::events(&app, "SYNC01", "Rekomi Affiliate Approved").await.len(), 1, "Bo's was dropped");
}

async fn count(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("a count")
}

#[tokio::test]
async fn erasing_an_affiliate_removes_their_data_and_takes_back_what_rekomi_wrote_in_klaviyo() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Approved", 1).await;
    let db = app.db.clone();
    assert!(count(&db, "SELECT COUNT(*) FROM klaviyo_events WHERE email = 'ana@example.com'").await > 0);

    let erased: app::api::views::ApplicationView =
        merchant.call("erase_affiliate", json!({"id": ana.id})).await.expect("erased");
    assert_eq!((erased.full_name.as_str(), erased.first_name.as_str()), ("Erased affiliate", "Erased"));
    assert!(erased.email.ends_with("@erased.invalid") && erased.referral_code.is_none(), "{erased:?}");
    assert_eq!(erased.state, app::domain::AffiliateState::Disabled, "out of the program");
    assert!(erased.erased_at.is_some());

    // Klaviyo: out of the list and Rekomi's properties unset; the consent is the person's own.
    let deadline = Instant::now() + Duration::from_secs(30);
    while in_klaviyo(&app, "ana@example.com", SINGLE) != (false, "SUBSCRIBED".to_owned(), Value::Null, Value::Null) {
        assert!(Instant::now() < deadline, "{:?}", in_klaviyo(&app, "ana@example.com", SINGLE));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(property(&app, "ana@example.com", "Rekomi referral code").is_null());
    // Rekomi keeps nothing of her: no event, no Klaviyo work holding her email, no search hit.
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&db, "SELECT COUNT(*) FROM klaviyo_erasures").await > 0 {
        assert!(Instant::now() < deadline, "the erasure row stays until Klaviyo has done it, then goes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM klaviyo_events WHERE lower(email) = 'ana@example.com'").await, 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM affiliates WHERE lower(email) LIKE '%ana%' OR full_name LIKE '%Silva%'").await,
        0
    );
    let history = detail(&merchant, &ana).await.audit;
    assert!(history.iter().any(|e| e.action == "erased"), "{history:?}");

    let (status, err) = merchant.call::<Value>("erase_affiliate", json!({"id": ana.id})).await.expect_err("once");
    assert_eq!(status.as_u16(), 409, "{err:?}");
    let outcome = merchant.decide(&[ana.id], "enable").await.expect("answered");
    assert!(outcome.changed.is_empty() && outcome.skipped.len() == 1, "{outcome:?}");
    let again = detail(&merchant, &ana).await.affiliate;
    assert_eq!(again.state, app::domain::AffiliateState::Disabled, "an erased affiliate is never decided again");
}

#[tokio::test]
async fn without_klaviyo_no_verification_link_is_queued_to_arrive_late() {
    let app = spawn_app().await;
    account(&app);
    let merchant = app.merchant("Quiet Shop").await;
    let campaign = merchant.create_campaign(campaign_form(json!({"name": "Quiet Partners"}))).await.expect("campaign");
    let fields = [("name", "Ana Silva"), ("email", "ana@example.com"), ("accept_terms", "on"), ("terms_version", "1")];
    let (status, html) = merchant.apply_unconfirmed(&campaign.landing_path, &fields).await;
    assert!(status.is_success() && html.contains("confirms your email address"), "{html}");
    let db = app.db.clone();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM klaviyo_events").await, 0, "nothing kept for a reconnect");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM email_verifications").await, 0, "no link made");
    // Connected later: the kept-events release brings no stale link; applying again sends one.
    let _: ConnectOutcome =
        merchant.call("connect_klaviyo", json!({"key": KEY, "confirm_account_id": null})).await.expect("connects");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM klaviyo_events").await, 0);
    let (_, again) = merchant.apply_unconfirmed(&campaign.landing_path, &fields).await;
    assert!(again.contains("confirm your email"), "{again}");
    crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Verify Email", 1).await;
}

#[tokio::test]
async fn an_erasure_made_while_klaviyo_is_disconnected_waits_and_goes_on_reconnect() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    let _: Value = merchant.call("disconnect_klaviyo", json!({})).await.expect("disconnected");
    let _: app::api::views::ApplicationView =
        merchant.call("erase_affiliate", json!({"id": ana.id})).await.expect("erased");

    // Klaviyo can't be reached: the row waits (no attempt used up) and Ana stays in the list.
    let db = app.db.clone();
    let waiting = "SELECT COUNT(*) FROM klaviyo_erasures WHERE state = 'retrying' AND attempts = 0";
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&db, waiting).await != 1 {
        assert!(Instant::now() < deadline, "the erasure waits for a connection instead of being dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(in_klaviyo(&app, "ana@example.com", SINGLE).0, "nothing could be done in Klaviyo yet");

    // Connected again: it goes at once (not at the hourly look), and the row with her email is gone.
    let _: ConnectOutcome =
        merchant.call("connect_klaviyo", json!({"key": KEY, "confirm_account_id": null})).await.expect("connects");
    let deadline = Instant::now() + Duration::from_secs(15);
    while in_klaviyo(&app, "ana@example.com", SINGLE).0 || count(&db, "SELECT COUNT(*) FROM klaviyo_erasures").await > 0
    {
        assert!(Instant::now() < deadline, "{:?}", in_klaviyo(&app, "ana@example.com", SINGLE));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(property(&app, "ana@example.com", "Rekomi referral code").is_null());
}

#[tokio::test]
async fn lifting_the_ban_of_an_applicant_never_approved_puts_them_back_in_the_queue_not_the_program() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let spam = apply(&merchant, &landing, "Sam Spam", "sam@example.com").await;
    let outcome: app::api::views::DecisionOutcome = merchant
        .call("ban_affiliates", json!({"ids": [spam.id], "reason": "Fake website", "block_address": false}))
        .await
        .expect("banned");
    assert_eq!(outcome.changed.first().map(|a| a.state), Some(app::domain::AffiliateState::Banned));
    let lifted = merchant.decide(&[spam.id], "enable").await.expect("lifted");
    let back = lifted.changed.first().expect("changed");
    assert_eq!(back.state, app::domain::AffiliateState::Pending, "back to deciding, not approved");
    assert!(back.referral_code.is_none() && back.sync.is_none(), "{back:?}");
    let history = detail(&merchant, &spam).await.audit;
    assert!(history.iter().any(|e| e.action == "ban lifted"), "{history:?}");
    // And the email may apply again (the ban is gone): the answer is that of any application.
    let (status, body) = merchant
        .apply(
            &landing,
            &[("name", "Sam"), ("email", "sam@example.com"), ("accept_terms", "on"), ("terms_version", "1")],
        )
        .await;
    assert!(status.is_success() && body.contains("confirm your email"), "{status}: {body}");
}

#[tokio::test]
async fn a_form_applicant_confirms_their_email_before_anything_reaches_klaviyo() {
    let app = spawn_app().await;
    account(&app);
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let fields = [("name", "Ana Silva"), ("email", "ana@example.com"), ("accept_terms", "on"), ("terms_version", "1")];
    let (status, html) = merchant.apply_unconfirmed(&landing, &fields).await;
    assert!(status.is_success(), "{status}");
    assert!(html.contains("Almost there, Ana: confirm your email"), "{html}");
    assert!(html.contains("Trail Shop sends a link to the address you entered"), "{html}");

    // The link goes out as the one event; nothing else about her reaches Klaviyo yet.
    let sent = crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Verify Email", 1).await;
    let properties = &sent[0]["properties"];
    assert_eq!(properties["first_name"], "Ana");
    assert_eq!(properties["campaign"], "Trail Partners");
    assert_eq!(properties["expires_in_hours"], 72);
    let url = properties["verify_url"].as_str().expect("a link").to_owned();
    assert!(url.starts_with(&app.address) && url.contains("/verify?token="), "{url}");
    let ana = merchant.find("ana@example.com").await;
    assert!(!ana.email_verified && ana.sync.is_none(), "{ana:?}");
    let refused = merchant.decide(&[ana.id], "approve").await.expect("answered");
    assert!(refused.changed.is_empty() && refused.skipped[0].1.contains("email not confirmed"), "{refused:?}");
    assert!(crate::invites::events(&app, "SYNC01", "Rekomi Affiliate Applied").await.is_empty());
    {
        let world = app.klaviyo.world.lock().expect("world");
        let account = &world.accounts["SYNC01"];
        assert!(account.lists[SINGLE].members.is_empty(), "not in the list");
        let written = account.profiles.values().any(|p| p.properties.keys().any(|k| k.starts_with("Rekomi")));
        assert!(!written, "no Rekomi properties");
    }

    // Applying again answers the same and sends a new link, three a day at most.
    for _ in 0..3 {
        let (status, again) = merchant.apply_unconfirmed(&landing, &fields).await;
        assert!(status.is_success() && again.contains("confirm your email"), "{again}");
    }
    crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Verify Email", 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = crate::invites::events(&app, "SYNC01", "Rekomi Affiliate Verify Email").await;
    assert_eq!(all.len(), 3, "the fourth request is not sent");

    // Opening the link shows a button (a mail scanner's GET uses nothing up); pressing it confirms.
    let anonymous = reqwest::Client::new();
    let page = anonymous.get(&url).send().await.expect("answers").text().await.expect("body");
    assert!(page.contains("Confirm my email") && !page.contains("<script"), "{page}");
    assert!(!merchant.find("ana@example.com").await.email_verified);
    let token = url.split("token=").nth(1).expect("a token").to_owned();
    let action = url.split('?').next().expect("a path").to_owned();
    let confirm = |token: String| {
        let (client, action) = (anonymous.clone(), action.clone());
        async move {
            let response = client.post(&action).form(&[("token", token)]).send().await.expect("answers");
            (response.status().as_u16(), response.text().await.expect("body"))
        }
    };
    let (status, page) = confirm(token.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Thanks, Ana!") && page.contains("reviews each application"), "{page}");
    let (status, page) = confirm(token).await;
    assert_eq!(status, 410, "single use: {page}");
    assert!(page.contains("Apply again with the same email"), "{page}");
    let (status, _) = confirm("not-a-token".into()).await;
    assert_eq!(status, 410);

    // Confirmed: the application is announced, and approving syncs her as usual.
    let ana = merchant.find("ana@example.com").await;
    assert!(ana.email_verified);
    let applied = crate::invites::wait_for_events(&app, "SYNC01", "Rekomi Affiliate Applied", 1).await;
    assert_eq!(applied[0]["properties"]["source"], "form");
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    let history = detail(&merchant, &ana).await.audit;
    assert!(history.iter().any(|e| e.action == "email verified" && e.actor == "applicant"), "{history:?}");

    // An unconfirmed applicant who is banned gets no event either: Klaviyo never heard of them.
    let spam = [("name", "Sam Spam"), ("email", "sam@example.com"), ("accept_terms", "on"), ("terms_version", "1")];
    merchant.apply_unconfirmed(&landing, &spam).await;
    let sam = merchant.find("sam@example.com").await;
    let _: app::api::views::DecisionOutcome = merchant
        .call("ban_affiliates", json!({"ids": [sam.id], "reason": "Spam", "block_address": false}))
        .await
        .expect("banned");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(crate::invites::events(&app, "SYNC01", "Rekomi Affiliate Banned").await.is_empty());
}

#[tokio::test]
async fn an_auto_approve_campaign_welcomes_the_applicant_when_they_confirm() {
    let app = spawn_app().await;
    crate::invites::klaviyo_account(&app, "AUTO01", "pk_live_autoautoautoautoautoauto0001", "AUTOLS");
    let (merchant, _, landing) =
        crate::invites::connected_merchant(&app, "pk_live_autoautoautoautoautoauto0001", "AUTOLS", true).await;
    let fields = [("name", "Zoë Ørsted"), ("email", "zoe@example.com"), ("accept_terms", "on"), ("terms_version", "1")];
    let (_, html) = merchant.apply_unconfirmed(&landing, &fields).await;
    assert!(html.contains("confirm your email") && !html.contains("Welcome aboard"), "{html}");
    assert_eq!(merchant.find("zoe@example.com").await.state, app::domain::AffiliateState::Pending);
    let sent = crate::invites::wait_for_events(&app, "AUTO01", "Rekomi Affiliate Verify Email", 1).await;
    let url = sent[0]["properties"]["verify_url"].as_str().expect("a link").to_owned();
    let (action, token) = url.split_once("?token=").expect("a token");
    let response = reqwest::Client::new().post(action).form(&[("token", token)]).send().await.expect("answers");
    let page = response.text().await.expect("body");
    assert!(page.contains("Welcome aboard, Zoë!"), "{page}");
    let zoe = merchant.find("zoe@example.com").await;
    assert_eq!(zoe.state, app::domain::AffiliateState::Approved);
    // The welcome page hands over the tracking link and the way to the dashboard at once.
    let code = zoe.referral_code.expect("a code");
    assert!(page.contains(&format!("/r/{code}\"")), "the tracking link: {page}");
    assert!(page.contains("/portal/"), "the dashboard: {page}");
    crate::invites::wait_until_synced(&merchant, zoe.id).await;
}

async fn pending_moves(merchant: &Browser) -> Vec<app::api::views::ListMove> {
    merchant.call("pending_list_moves", json!({})).await.expect("moves load")
}

/// Waits until `email`'s membership of `list` in the fake is `member`.
async fn until_member(app: &TestApp, email: &str, list: &str, member: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while in_klaviyo(app, email, list).0 != member {
        assert!(Instant::now() < deadline, "{email} never became member={member} of {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_new_list_moves_affiliates_when_the_merchant_says_so_and_the_old_membership_is_their_choice() {
    let app = spawn_app().await;
    account(&app);
    let second = app.klaviyo.world.lock().expect("world").accounts.get_mut("SYNC01").expect("account").add_list(
        Some("AFFIL2".into()),
        "Affiliates 2027",
        false,
    );
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    let bo = apply(&merchant, &landing, "Bo Lind", "bo@example.com").await;
    approve(&merchant, &ana).await;
    approve(&merchant, &bo).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;
    wait_for(&merchant, &bo, SyncState::Succeeded).await;
    assert!(pending_moves(&merchant).await.is_empty(), "nothing to move while the list is the same");

    // A new default list: nobody moves on their own (a refresh doesn't re-add them to the old list
    // either), and the preview says how many would.
    let _: Value = merchant.call("choose_default_list", json!({"list_id": second})).await.expect("chosen");
    let moves = pending_moves(&merchant).await;
    assert_eq!(
        moves,
        vec![app::api::views::ListMove { from_list: SINGLE.into(), to_list: second.clone(), affiliates: 2 }]
    );
    assert!(!in_klaviyo(&app, "ana@example.com", &second).0);

    // Moved, the old membership left as it is.
    let moved: app::api::views::MoveOutcome =
        merchant.call("move_to_current_lists", json!({"remove_old": false})).await.expect("moved");
    assert_eq!((moved.moved, moved.leaving), (2, 0));
    until_member(&app, "ana@example.com", &second, true).await;
    until_member(&app, "bo@example.com", &second, true).await;
    let now = wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert_eq!((now.list_id.as_str(), now.retired), (second.as_str(), false));
    assert!(in_klaviyo(&app, "ana@example.com", SINGLE).0, "still in the old list, as chosen");
    assert!(pending_moves(&merchant).await.is_empty());
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!((health.succeeded, health.unsynced, health.failed), (2, 0, 0), "{health:?}");

    // Back to the first list, this time taking them out of the one they leave.
    let _: Value = merchant.call("choose_default_list", json!({"list_id": SINGLE})).await.expect("chosen");
    assert_eq!(pending_moves(&merchant).await[0].affiliates, 2);
    let moved: app::api::views::MoveOutcome =
        merchant.call("move_to_current_lists", json!({"remove_old": true})).await.expect("moved");
    assert_eq!((moved.moved, moved.leaving), (2, 2));
    until_member(&app, "ana@example.com", &second, false).await;
    until_member(&app, "bo@example.com", &second, false).await;
    // Membership only: consent and the properties stay those of an active affiliate.
    assert_eq!(
        in_klaviyo(&app, "ana@example.com", SINGLE),
        (true, "SUBSCRIBED".to_owned(), json!(true), json!("active"))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let syncs = detail(&merchant, &ana).await.syncs;
        let old = syncs.iter().find(|s| s.list_id == second).expect("the old list's sync");
        if old.state == SyncState::Succeeded {
            assert!(old.retired && old.leaving, "{old:?}");
            assert_eq!(old.reason.as_deref(), Some("Out of this list: their campaign uses another list now. Their email consent is unchanged: it is theirs."));
            assert_eq!((syncs[0].list_id.as_str(), syncs[0].retired), (SINGLE, false), "the current sync first");
            break;
        }
        assert!(Instant::now() < deadline, "never left the old list: {old:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!((health.succeeded, health.unsynced, health.in_flight), (2, 0, 0), "{health:?}");
}

#[tokio::test]
async fn another_klaviyo_account_leaves_affiliates_where_they_are_until_they_are_synced_to_its_list() {
    let app = spawn_app().await;
    account(&app);
    crate::invites::klaviyo_account(&app, "NEWACC", "pk_live_newaccountnewaccountnew0001", "NEWLST");
    let (merchant, landing) = set_up(&app, "Trail Shop", KEY, SINGLE).await;
    let ana = apply(&merchant, &landing, "Ana Silva", "ana@example.com").await;
    approve(&merchant, &ana).await;
    wait_for(&merchant, &ana, SyncState::Succeeded).await;

    let outcome: ConnectOutcome = merchant
        .call("connect_klaviyo", json!({"key": "pk_live_newaccountnewaccountnew0001", "confirm_account_id": "NEWACC"}))
        .await
        .expect("switched");
    assert!(matches!(outcome, ConnectOutcome::Connected(_)), "{outcome:?}");
    // The old account's list is out of reach: nothing is sent there, and Ana reads as not synced.
    let health: SyncHealth = merchant.call("sync_health", json!({})).await.expect("health");
    assert_eq!((health.unsynced, health.succeeded), (1, 0), "{health:?}");
    let _: Value = merchant.call("choose_default_list", json!({"list_id": "NEWLST"})).await.expect("chosen");
    let queued: u64 = merchant.call("sync_all_approved", json!({})).await.expect("queued");
    assert_eq!(queued, 1);
    let now = wait_for(&merchant, &ana, SyncState::Succeeded).await;
    assert_eq!(now.list_id, "NEWLST");
    assert!(in_klaviyo(&app, "ana@example.com", SINGLE).0, "still in the old account's list");
    let world = app.klaviyo.world.lock().expect("world");
    let new = &world.accounts["NEWACC"];
    let id = new.by_email.get("ana@example.com").expect("in the new account");
    assert!(new.lists["NEWLST"].members.contains_key(id));
}
