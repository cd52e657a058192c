//! Bulk invites: every line checked before anything is sent, one Klaviyo event per invite, and
//! links that are signed, single-use, replaced by a resend, dead once revoked or expired.

use crate::helpers::{campaign_form, spawn_app, Browser, TestApp};
use app::api::views::{ConnectOutcome, InvitePreview, InviteStatus, InviteView, InvitesSent};
use app::domain::{AffiliateState, SyncState};
use fakes::klaviyo::{AccountSpec, KeySpec, ListSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "pk_live_inviteinviteinviteinvite0001";
const LIST: &str = "INVLST";

pub fn klaviyo_account(app: &TestApp, id: &str, key: &str, list: &str) {
    app.klaviyo.add_account(AccountSpec {
        id: Some(id.into()),
        name: "Invite Co".into(),
        test_account: false,
        keys: vec![KeySpec { key: key.into(), scopes: vec!["*".into()] }],
        lists: vec![ListSpec { id: Some(list.into()), name: "Affiliates".into(), double_opt_in: false }],
    });
}

/// A merchant connected to Klaviyo with a default list and one campaign; returns the campaign id
/// and its landing path.
pub async fn connected_merchant(app: &TestApp, key: &str, list: &str, auto_approve: bool) -> (Browser, i64, String) {
    let merchant = app.merchant("Invite Shop").await;
    let outcome: ConnectOutcome =
        merchant.call("connect_klaviyo", json!({"key": key, "confirm_account_id": null})).await.expect("connects");
    assert!(matches!(outcome, ConnectOutcome::Connected(_)), "{outcome:?}");
    let _: Value = merchant.call("choose_default_list", json!({"list_id": list})).await.expect("list chosen");
    let campaign = merchant
        .create_campaign(campaign_form(json!({"name": "Trail Partners", "auto_approve": auto_approve})))
        .await
        .expect("campaign");
    (merchant, campaign.id.get(), campaign.landing_path)
}

fn request(campaign: i64, people: &str) -> Value {
    json!({"request": {"campaign": campaign, "people": people, "expires_days": 14}})
}

async fn invites(merchant: &Browser) -> Vec<InviteView> {
    merchant.call("list_invites", json!({})).await.expect("invites load")
}

async fn invite_for(merchant: &Browser, email: &str) -> InviteView {
    invites(merchant).await.into_iter().find(|i| i.email == email).unwrap_or_else(|| panic!("{email} was invited"))
}

/// The fake account's recorded events with this metric.
pub async fn events(app: &TestApp, account: &str, metric: &str) -> Vec<Value> {
    let world = app.klaviyo.world.lock().expect("world");
    world.accounts.get(account).map_or_else(Vec::new, |a| {
        a.events.iter().filter(|e| e["metric"]["data"]["attributes"]["name"] == metric).cloned().collect()
    })
}

pub async fn wait_for_events(app: &TestApp, account: &str, metric: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = events(app, account, metric).await;
        if found.len() >= n {
            return found;
        }
        assert!(Instant::now() < deadline, "only {} {metric} events arrived", found.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the affiliate's Klaviyo sync is read back as Succeeded.
pub async fn wait_until_synced(merchant: &Browser, id: app::domain::AffiliateId) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let detail: app::api::views::AffiliateDetail =
            merchant.call("affiliate_detail", json!({"id": id})).await.expect("detail");
        if detail.syncs.first().is_some_and(|s| s.state == SyncState::Succeeded) {
            return;
        }
        assert!(Instant::now() < deadline, "never synced: {:?}", detail.syncs);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn accept(app: &TestApp, link: &str, name: &str, terms: bool) -> (StatusCode, String) {
    let browser = app.browser();
    let url = reqwest::Url::parse(link).expect("absolute link");
    let token = url.query_pairs().find(|(k, _)| k == "invite").map(|(_, v)| v.into_owned()).expect("token");
    let mut fields = vec![("name", name.to_owned()), ("terms_version", "1".into()), ("invite", token)];
    // A tampered email is ignored: the invite's email is the one that joins.
    fields.push(("email", "someone-else@example.com".into()));
    if terms {
        fields.push(("accept_terms", "on".into()));
    }
    let response = browser.client.post(app.url(url.path())).form(&fields).send().await.expect("the server answers");
    (response.status(), response.text().await.expect("a body"))
}

#[tokio::test]
async fn every_line_is_checked_before_anything_is_sent_and_each_invite_is_one_klaviyo_event() {
    let app = spawn_app().await;
    klaviyo_account(&app, "INV001", KEY, LIST);
    let (merchant, campaign, landing) = connected_merchant(&app, KEY, LIST, false).await;
    let (status, body) =
        merchant.apply(&landing, &[("name", "Old Timer"), ("email", "old@example.com"), ("accept_terms", "on")]).await;
    assert!(status.is_success(), "{body}");
    let people = "email,name\nana@example.com, Ana Berg\nBo Li <bo@example.com>\nnot-an-email\nANA@example.com\n\
                  old@example.com\ncy@example.com\n";

    let preview: InvitePreview = merchant.call("preview_invites", request(campaign, people)).await.expect("preview");
    let problems: Vec<(u64, String)> =
        preview.rows.iter().filter_map(|r| r.problem.clone().map(|p| (r.line, p))).collect();
    assert_eq!((preview.ready, preview.problems), (3, 3), "{problems:?}");
    assert!(problems[0].1.contains("@"), "bad email named: {problems:?}");
    assert_eq!(problems[1], (5, "Duplicate of line 2.".to_owned()));
    assert_eq!(problems[2], (6, "Already an affiliate (pending).".to_owned()));
    assert!(preview.klaviyo_connected);
    assert!(events(&app, "INV001", "Rekomi Affiliate Invited").await.is_empty(), "a preview sends nothing");

    let sent: InvitesSent = merchant.call("send_invites", request(campaign, people)).await.expect("sent");
    assert_eq!((sent.sent, sent.skipped.len()), (3, 3));
    let delivered = wait_for_events(&app, "INV001", "Rekomi Affiliate Invited", 3).await;
    assert_eq!(delivered.len(), 3, "one event per invite");
    let ana = delivered
        .iter()
        .find(|e| e["profile"]["data"]["attributes"]["email"] == "ana@example.com")
        .expect("Ana's event");
    let props = &ana["properties"];
    assert_eq!(props["campaign"], "Trail Partners");
    assert_eq!(props["merchant"], "Invite Shop");
    assert_eq!(props["invitee_first_name"], "Ana");
    let link = props["invite_url"].as_str().expect("invite_url");
    assert!(link.starts_with(&app.address) && link.contains("?invite="), "{link}");
    assert!(ana["unique_id"].as_str().is_some_and(|u| u.starts_with("invite:")));

    // Sending the same list again invites nobody twice.
    let again: InvitesSent = merchant.call("send_invites", request(campaign, people)).await.expect("sent");
    assert_eq!(again.sent, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = invites(&merchant).await;
        if listed.iter().all(|i| i.delivery == "sent") {
            assert_eq!(listed.len(), 3);
            assert!(listed.iter().all(|i| i.status == InviteStatus::Sent && i.link.is_some()));
            break;
        }
        assert!(Instant::now() < deadline, "deliveries never marked sent: {listed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_invite_link_is_signed_single_use_and_accepting_it_needs_the_terms() {
    let app = spawn_app().await;
    klaviyo_account(&app, "INV002", KEY, LIST);
    let (merchant, campaign, _) = connected_merchant(&app, KEY, LIST, true).await;
    let _: InvitesSent =
        merchant.call("send_invites", request(campaign, "dee@example.com, Dee Vance")).await.expect("sent");
    let invite = invite_for(&merchant, "dee@example.com").await;
    let link = invite.link.clone().expect("a live invite has a link");

    let page = app.browser().client.get(&link).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("dee@example.com") && html.contains("Dee Vance") && html.contains("readonly"), "{html}");
    assert_eq!(invite_for(&merchant, "dee@example.com").await.status, InviteStatus::Opened);

    let tampered = link.replacen("?invite=", "?invite=9", 1);
    let bad = app.browser().client.get(&tampered).send().await.expect("page");
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);

    let (status, html) = accept(&app, &link, "Dee Vance", false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Please read and accept the program terms"), "{html}");

    let (status, html) = accept(&app, &link, "Dee Vance", true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Welcome aboard, Dee"), "auto-approve campaign: {html}");
    assert!(merchant.queue(Default::default()).await.items.iter().all(|a| a.email != "someone-else@example.com"));
    let dee = merchant.find("dee@example.com").await;
    assert_eq!((dee.state, dee.source.as_str()), (AffiliateState::Approved, "invite"));
    assert!(dee.consent_at.is_some() && dee.consent_terms_version == Some(1));
    assert_eq!(invite_for(&merchant, "dee@example.com").await.status, InviteStatus::Accepted);

    // Lands subscribed in the list, like any approval.
    wait_until_synced(&merchant, dee.id).await;

    let (status, html) = accept(&app, &link, "Dee Vance", true).await;
    assert_eq!(status, StatusCode::GONE, "single use: {html}");
    assert!(html.contains("already used"), "{html}");
}

#[tokio::test]
async fn resend_replaces_the_link_revoke_and_expiry_end_it_and_other_merchants_cannot_touch_it() {
    let app = spawn_app().await;
    klaviyo_account(&app, "INV003", KEY, LIST);
    let (merchant, campaign, _) = connected_merchant(&app, KEY, LIST, false).await;
    let _: InvitesSent =
        merchant.call("send_invites", request(campaign, "eve@example.com\nfay@example.com")).await.expect("sent");
    let eve = invite_for(&merchant, "eve@example.com").await;
    let old_link = eve.link.clone().expect("link");

    let resent: InviteView = merchant.call("resend_invite", json!({"id": eve.id})).await.expect("resent");
    let new_link = resent.link.clone().expect("new link");
    assert_ne!(old_link, new_link);
    assert_eq!(resent.sends, 2);
    let old = app.browser().client.get(&old_link).send().await.expect("page");
    assert_eq!(old.status(), StatusCode::GONE);
    assert!(old.text().await.expect("html").contains("newer invite"));
    let new = app.browser().client.get(&new_link).send().await.expect("page");
    assert_eq!(new.status(), StatusCode::OK);
    let delivered = wait_for_events(&app, "INV003", "Rekomi Affiliate Invited", 3).await;
    let eve_ids: Vec<&str> = delivered
        .iter()
        .filter(|e| e["profile"]["data"]["attributes"]["email"] == "eve@example.com")
        .filter_map(|e| e["unique_id"].as_str())
        .collect();
    assert_eq!(eve_ids.len(), 2, "the resend is a new event, not a duplicate: {eve_ids:?}");

    // Another merchant can neither resend nor revoke it.
    let other = app.merchant("Other Shop").await;
    let (status, _) = other.call::<InviteView>("revoke_invite", json!({"id": eve.id})).await.expect_err("not theirs");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = other.call::<InviteView>("resend_invite", json!({"id": eve.id})).await.expect_err("not theirs");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(invites(&other).await.is_empty());

    let revoked: InviteView = merchant.call("revoke_invite", json!({"id": eve.id})).await.expect("revoked");
    assert_eq!((revoked.status, revoked.link), (InviteStatus::Revoked, None));
    let dead = app.browser().client.get(&new_link).send().await.expect("page");
    assert_eq!(dead.status(), StatusCode::GONE);
    assert!(dead.text().await.expect("html").contains("withdrawn"));

    let fay = invite_for(&merchant, "fay@example.com").await;
    crate::sync::exec(&app.db, &format!("UPDATE invites SET expires_at = 1 WHERE id = {}", fay.id)).await;
    assert_eq!(invite_for(&merchant, "fay@example.com").await.status, InviteStatus::Expired);
    let expired = app.browser().client.get(fay.link.expect("link")).send().await.expect("page");
    assert_eq!(expired.status(), StatusCode::GONE);
    assert!(expired.text().await.expect("html").contains("expired"));
}

#[tokio::test]
async fn links_with_tokens_leave_the_events_outbox_a_day_after_sending() {
    let app = spawn_app().await;
    let merchant = app.merchant("Scrub Shop").await;
    let session: Option<app::api::views::SessionView> =
        merchant.call("current_session", json!({})).await.expect("session");
    let id = session.expect("signed in").merchant_id;
    let now = server::store::now_ms();
    let insert = "INSERT INTO klaviyo_events (merchant_id, metric, email, unique_id, properties, state, sent_at,
            created_at, updated_at) VALUES ($1, $2, 'ana@example.com', $3, $4, $5, $6, $6, $6)";
    let rows = [
        (
            "login-old",
            r#"{"login_url":"https://x/portal/s/login?token=SECRET1","first_name":"Ana"}"#,
            "sent",
            now - 2 * 86_400_000,
        ),
        (
            "invite-failed",
            r#"{"invite_url":"https://x/join/s/c?invite=SECRET2","nested":{"verify_url":"https://x?token=SECRET3"}}"#,
            "failed",
            now - 2 * 86_400_000,
        ),
        ("login-new", r#"{"login_url":"https://x/portal/s/login?token=FRESH"}"#, "sent", now),
        ("login-queued", r#"{"login_url":"https://x/portal/s/login?token=WAITING"}"#, "queued", now - 2 * 86_400_000),
    ];
    for (unique, properties, state, at) in rows {
        let metric = "Rekomi Affiliate Login Link";
        match &app.db {
            server::store::Db::Sqlite(pool) => sqlx::query(insert)
                .bind(id.get())
                .bind(metric)
                .bind(unique)
                .bind(properties)
                .bind(state)
                .bind(at)
                .execute(pool)
                .await
                .map(drop),
            server::store::Db::Postgres(pool) => sqlx::query(insert)
                .bind(id.get())
                .bind(metric)
                .bind(unique)
                .bind(properties)
                .bind(state)
                .bind(at)
                .execute(pool)
                .await
                .map(drop),
        }
        .expect("event inserted");
    }
    let scrubbed = server::services::integrations::scrub_sent_links(&app.db, now).await.expect("scrub");
    assert_eq!(scrubbed, 2, "the two done for more than a day");
    let all = "SELECT properties FROM klaviyo_events ORDER BY id";
    let stored: Vec<String> = match &app.db {
        server::store::Db::Sqlite(pool) => sqlx::query_scalar(all).fetch_all(pool).await,
        server::store::Db::Postgres(pool) => sqlx::query_scalar(all).fetch_all(pool).await,
    }
    .expect("events");
    let text = stored.join("\n");
    for gone in ["SECRET1", "SECRET2", "SECRET3"] {
        assert!(!text.contains(gone), "{gone} still stored: {text}");
    }
    assert!(text.contains("\"first_name\":\"Ana\""), "the rest of the event stays: {text}");
    assert!(text.contains("FRESH") && text.contains("WAITING"), "recent and unsent links stay until used: {text}");
    assert_eq!(server::services::integrations::scrub_sent_links(&app.db, now).await.expect("scrub"), 0);
}
