//! The REST API Klaviyo flows call (auth, isolation, idempotency, pagination, validation, rate
//! limits), lifecycle events into Klaviyo, signed outgoing webhooks, and payout runs with their
//! files, end to end over HTTP.

use crate::helpers::{application, campaign_form, spawn_app, spawn_app_with, Browser, Options, TestApp};
use crate::invites::{connected_merchant, events, klaviyo_account, wait_for_events};
use app::api::views::{IntegrationsView, NewApiToken, NewEndpoint, PayoutsPage, RunView};
use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::services::earnings;
use server::store::now_ms;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;

struct Api {
    url: String,
    token: String,
}

impl Api {
    async fn new(app: &TestApp, merchant: &Browser) -> Self {
        let token: NewApiToken =
            merchant.call("create_api_token", json!({"name": "Klaviyo flows"})).await.expect("token");
        Self { url: app.url(""), token: token.token }
    }

    async fn post(&self, path: &str, key: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request =
            reqwest::Client::new().post(format!("{}{path}", self.url)).bearer_auth(&self.token).json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.expect("answered");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("ok");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// A merchant with an auto-approving 10 % campaign (no hold minimum) and approved affiliates.
async fn shop(app: &TestApp, name: &str, people: &[(&str, &str)], extra: Value) -> Browser {
    let merchant = app.merchant(name).await;
    let mut form = campaign_form(json!({"auto_approve": true, "hold_days": "30"}));
    if let (Some(form), Some(extra)) = (form.as_object_mut(), extra.as_object()) {
        form.extend(extra.clone());
    }
    let campaign = merchant.create_campaign(form).await.expect("campaign");
    for (person, email) in people {
        let (status, _) = merchant.apply(&campaign.landing_path, &application(person, email)).await;
        assert_eq!(status, StatusCode::OK);
    }
    merchant
}

async fn code_of(merchant: &Browser, email: &str) -> String {
    merchant.find(email).await.referral_code.expect("approved")
}

fn conversion(order: &str, minor: i64, code: &str) -> Value {
    json!({"order_id": order, "amount_minor": minor, "currency": "USD", "referral_code": code})
}

#[tokio::test]
async fn the_api_needs_a_token_and_keeps_each_merchant_to_its_own_data() {
    let app = spawn_app().await;
    let a = shop(&app, "Shop A", &[("Ana Lima", "ana@example.com")], json!({})).await;
    let b = shop(&app, "Shop B", &[("Bo Berg", "bo@example.com")], json!({})).await;
    let (api_a, api_b) = (Api::new(&app, &a).await, Api::new(&app, &b).await);

    let anonymous = reqwest::Client::new().get(app.url("/api/v1/affiliates")).send().await.expect("answered");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(body["error"]["code"], "no_token");
    let wrong = reqwest::Client::new().get(app.url("/api/v1/affiliates")).bearer_auth("rk_forged").send().await;
    assert_eq!(wrong.expect("answered").status(), StatusCode::UNAUTHORIZED);

    // B's token sees only B's affiliate, and can neither read nor change A's.
    let (status, page) = api_b.get("/api/v1/affiliates").await;
    assert_eq!(status, StatusCode::OK);
    let emails: Vec<&str> = page["data"].as_array().expect("data").iter().filter_map(|a| a["email"].as_str()).collect();
    assert_eq!(emails, vec!["bo@example.com"]);
    let (status, body) = api_b.get("/api/v1/affiliates/status?email=ana@example.com").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("affiliate_not_found")));
    let (status, _) =
        api_b.post("/api/v1/affiliates/rate", None, json!({"email": "ana@example.com", "percent": 50})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, ana) = api_a.get("/api/v1/affiliates/status?email=ANA@example.com").await;
    assert_eq!(status, StatusCode::OK, "{ana}");
    assert_eq!(ana["rate"]["percent"], 10.0, "B's attempt changed nothing");
    assert_eq!(ana["state"], "approved");
    assert!(ana["link"].as_str().is_some_and(|l| l.contains("/r/")), "{ana}");

    // A revoked token stops working at once.
    let settings: app::api::views::TrackingSettings = a.call("tracking_settings", json!({})).await.expect("settings");
    let _: Value = a.call("revoke_api_token", json!({"id": settings.tokens[0].id})).await.expect("revoked");
    assert_eq!(api_a.get("/api/v1/affiliates").await.0, StatusCode::UNAUTHORIZED);
    let unknown = reqwest::Client::new().get(app.url("/api/v1/nothing")).send().await.expect("answered");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rate_bump_from_a_flow_is_idempotent_and_conversions_earn_at_the_bumped_rate() {
    let app = spawn_app().await;
    let merchant = shop(&app, "Bump Shop", &[("Ana Lima", "ana@example.com")], json!({})).await;
    let api = Api::new(&app, &merchant).await;
    let code = code_of(&merchant, "ana@example.com").await;

    // Klaviyo's webhook action: static headers, a templated body (strings), the key in the body.
    let body = json!({"email": "ana@example.com", "percent": "15", "reason": "High predicted CLV",
        "expires_in_days": "90", "idempotency_key": "clv-ana-1"});
    let (status, first) = api.post("/api/v1/affiliates/rate", None, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!((first["changed"].clone(), first["affiliate"]["rate"]["percent"].clone()), (json!(true), json!(15.0)));
    assert_eq!(first["affiliate"]["rate"]["is_override"], true);
    assert_eq!(first["affiliate"]["rate"]["reason"], "High predicted CLV");
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/affiliates/rate"))
        .bearer_auth(&api.token)
        .json(&body)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.headers().get("idempotent-replay").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(response.json::<Value>().await.expect("json"), first, "a second delivery gets the first answer");
    let mut other = body.clone();
    other["percent"] = json!("20");
    let (status, reused) = api.post("/api/v1/affiliates/rate", None, other).await;
    assert_eq!(
        (status, reused["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_key_reused"))
    );

    // Validation names the problem.
    for (bad, code_expected) in [
        (json!({"email": "ana@example.com"}), "invalid_rate"),
        (json!({"email": "ana@example.com", "percent": 15, "flat_amount": "5.00"}), "invalid_rate"),
        (json!({"email": "ana@example.com", "percent": "150"}), "invalid_rate"),
        (json!({"email": "ana@example.com", "percent": 15, "expires_at": "2001-01-01T00:00:00Z"}), "invalid_expiry"),
        (json!({"email": "not an email", "percent": 15}), "invalid_email"),
        (json!({"email": "ana@example.com", "percent": 15, "bogus": 1}), "invalid_body"),
    ] {
        let (status, answer) = api.post("/api/v1/affiliates/rate", None, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {answer}");
        assert_eq!(answer["error"]["code"], code_expected, "{bad} → {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let raw = reqwest::Client::new()
        .post(app.url("/api/v1/affiliates/rate"))
        .bearer_auth(&api.token)
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(raw.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // An order now earns 15 %; one placed after the bump expires earns the campaign's 10 %.
    let (status, answer) = api.post("/api/v1/conversions", Some("o-1"), conversion("O-1", 10_000, &code)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["conversion"]["commission_minor"], 1500);
    let later = server::store::outbox::rfc3339(now_ms() + 91 * DAY_MS);
    let mut late = conversion("O-2", 10_000, &code);
    late["occurred_at"] = json!(later);
    let (_, answer) = api.post("/api/v1/conversions", Some("o-2"), late).await;
    assert_eq!(answer["conversion"]["commission_minor"], 1000, "the bump expired: {answer}");

    let (status, reset) =
        api.post("/api/v1/affiliates/rate", None, json!({"email": "ana@example.com", "reset": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (reset["affiliate"]["rate"]["percent"].clone(), reset["affiliate"]["rate"]["is_override"].clone()),
        (json!(10.0), json!(false))
    );
}

#[tokio::test]
async fn lists_page_with_cursors_and_refuse_bad_ones() {
    let app = spawn_app().await;
    let people: Vec<(String, String)> = (1..=5).map(|n| (format!("Person {n}"), format!("p{n}@example.com"))).collect();
    let refs: Vec<(&str, &str)> = people.iter().map(|(n, e)| (n.as_str(), e.as_str())).collect();
    let merchant = shop(&app, "Page Shop", &refs, json!({})).await;
    let api = Api::new(&app, &merchant).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/affiliates?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for a in page["data"].as_array().expect("data") {
            seen.push(a["email"].as_str().expect("email").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/affiliates?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (1..=5).rev().map(|n| format!("p{n}@example.com")).collect();
    assert_eq!(seen, expected, "newest first, each once");
    for (bad, code) in [
        ("/api/v1/affiliates?cursor=zzz", "invalid_cursor"),
        ("/api/v1/affiliates?limit=500", "invalid_limit"),
        ("/api/v1/affiliates?limit=abc", "invalid_query"),
        ("/api/v1/affiliates?state=happy", "invalid_state"),
        ("/api/v1/commissions?state=lost", "invalid_state"),
    ] {
        let (status, answer) = api.get(bad).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{bad}");
    }
    let (status, approved) = api.get("/api/v1/affiliates?state=approved&limit=100").await;
    assert_eq!((status, approved["data"].as_array().map(Vec::len)), (StatusCode::OK, Some(5)));
}

#[tokio::test]
async fn each_token_is_rate_limited_with_retry_after() {
    let app = spawn_app_with(Options { api_per_minute: 3, ..Options::default() }).await;
    let merchant = shop(&app, "Busy Shop", &[], json!({})).await;
    let api = Api::new(&app, &merchant).await;
    let other = Api::new(&app, &merchant).await;
    for _ in 0..3 {
        assert_eq!(api.get("/api/v1/affiliates").await.0, StatusCode::OK);
    }
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/affiliates"))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(other.get("/api/v1/affiliates").await.0, StatusCode::OK, "another token has its own budget");
}

#[tokio::test]
async fn invites_from_a_flow_return_the_link_once_per_email() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCINV8", "pk_live_restinviterestinviteresti01", "LIST8");
    let (merchant, _, _) = connected_merchant(&app, "pk_live_restinviterestinviteresti01", "LIST8", false).await;
    let api = Api::new(&app, &merchant).await;
    let body = json!({"email": "Win.Back@Example.com", "name": "Wyn Back"});
    let (status, first) = api.post("/api/v1/invites", None, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(first["url"].as_str().is_some_and(|u| u.contains("/join/")), "{first}");
    assert_eq!((first["email"].as_str(), first["created"].as_bool()), (Some("win.back@example.com"), Some(true)));
    let (status, again) = api.post("/api/v1/invites", None, body).await;
    assert_eq!(
        (status, again["id"].clone(), again["created"].clone()),
        (StatusCode::OK, first["id"].clone(), json!(false))
    );
    let delivered = wait_for_events(&app, "ACCINV8", "Rekomi Affiliate Invited", 1).await;
    assert_eq!(delivered.len(), 1, "one invite, one event");
    let (status, bad) = api.post("/api/v1/invites", None, json!({"email": "x@example.com", "campaign": "nope"})).await;
    assert_eq!((status, bad["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_campaign")));
}

/// A local endpoint that records what it receives and answers with `status`.
async fn endpoint(status: Arc<Mutex<u16>>) -> (String, Arc<Mutex<Vec<(HeaderMap, String)>>>) {
    let got: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
    let record = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            let status = status.clone();
            async move {
                record.lock().expect("lock").push((headers, String::from_utf8_lossy(&body).into_owned()));
                let code = *status.lock().expect("lock");
                axum::http::StatusCode::from_u16(code).expect("status")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, got)
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn webhooks_are_signed_logged_retried_and_redelivered() {
    let app = spawn_app().await;
    let merchant = app.merchant("Hook Shop").await;
    let campaign = merchant.create_campaign(campaign_form(json!({"auto_approve": true}))).await.expect("campaign");
    let answer = Arc::new(Mutex::new(200));
    let (url, got) = endpoint(answer.clone()).await;

    let (_, bad) = merchant
        .call::<NewEndpoint>("add_webhook", json!({"url": "ftp://x", "topics": ["affiliate.approved"]}))
        .await
        .expect_err("refused");
    assert!(bad.fields.iter().any(|(field, _)| field == "url"), "{bad:?}");
    let added: NewEndpoint = merchant
        .call("add_webhook", json!({"url": url, "topics": ["affiliate.approved", "commission.created"]}))
        .await
        .expect("added");
    assert!(added.secret.starts_with("whsec_"));

    let (status, _) = merchant.apply(&campaign.landing_path, &application("Ana Lima", "ana@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let (headers, body) = wait_for("the approval webhook", || got.lock().expect("lock").first().cloned()).await;
    let payload: Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(payload["type"], "affiliate.approved");
    assert_eq!(payload["data"]["email"], "ana@example.com");
    assert_eq!(headers["rekomi-event-type"], "affiliate.approved");
    let signature = headers["rekomi-signature"].to_str().expect("ascii");
    let t: i64 = signature.split(',').next().and_then(|p| p.strip_prefix("t=")).expect("t=").parse().expect("secs");
    assert_eq!(signature, server::outbox::signature(&added.secret, t, &body), "HMAC over t.body under the secret");
    assert!((now_ms() / 1000 - t).abs() < 60);

    // A failing endpoint: logged, scheduled for a retry; a manual redelivery sends it again.
    *answer.lock().expect("lock") = 500;
    let (status, _) = merchant.apply(&campaign.landing_path, &application("Bo Berg", "bo@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let view = wait_for_view(&merchant, |v| v.deliveries.iter().any(|d| d.state.as_str() == "retrying")).await;
    let retrying = view.deliveries.iter().find(|d| d.state.as_str() == "retrying").expect("retrying").clone();
    assert_eq!((retrying.last_status, retrying.attempts), (Some(500), 1));
    assert!(retrying.next_try.is_some());
    *answer.lock().expect("lock") = 204;
    let _: IntegrationsView = merchant.call("redeliver_webhook", json!({"id": retrying.id})).await.expect("redeliver");
    let view = wait_for_view(&merchant, |v| {
        v.deliveries.iter().any(|d| d.id == retrying.id && d.state.as_str() == "delivered")
    })
    .await;
    assert_eq!(view.deliveries.iter().find(|d| d.id == retrying.id).map(|d| d.attempts), Some(2));
    let sent = got.lock().expect("lock").len();
    assert_eq!(sent, 3, "one success, one failure, one redelivery");

    // Another merchant can't redeliver (or see) this merchant's deliveries.
    let stranger = app.merchant("Other Shop").await;
    let refused = stranger.call::<IntegrationsView>("redeliver_webhook", json!({"id": retrying.id})).await;
    assert!(refused.is_err());
    let theirs: IntegrationsView = stranger.call("integrations", json!({})).await.expect("view");
    assert!(theirs.deliveries.is_empty() && theirs.endpoints.is_empty());
}

/// An endpoint that accepts connections and never answers: each delivery to it waits for the
/// full request timeout.
async fn silent_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn one_merchants_silent_endpoints_do_not_hold_up_another_merchants_webhooks() {
    let app = spawn_app().await;
    let slow = app.merchant("Silent Shop").await;
    let slow_campaign = slow.create_campaign(campaign_form(json!({"auto_approve": true}))).await.expect("campaign");
    for _ in 0..10 {
        let url = silent_endpoint().await;
        let _: NewEndpoint =
            slow.call("add_webhook", json!({"url": url, "topics": ["affiliate.approved"]})).await.expect("added");
    }
    // Fifty deliveries that each hang until the 10 s request timeout.
    for n in 0..5 {
        let (status, _) =
            slow.apply(&slow_campaign.landing_path, &application("Sam Still", &format!("sam{n}@example.com"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let quick = app.merchant("Quick Shop").await;
    let campaign = quick.create_campaign(campaign_form(json!({"auto_approve": true}))).await.expect("campaign");
    let (url, got) = endpoint(Arc::new(Mutex::new(200))).await;
    let _: NewEndpoint =
        quick.call("add_webhook", json!({"url": url, "topics": ["affiliate.approved"]})).await.expect("added");
    let started = Instant::now();
    let (status, _) = quick.apply(&campaign.landing_path, &application("Ana Lima", "ana@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    wait_for("the other merchant's webhook", || got.lock().expect("lock").first().cloned()).await;
    // Before the runner took turns, this delivery queued behind the silent shop's until their
    // timeouts (10 s each claim) ran out.
    assert!(started.elapsed() < Duration::from_secs(8), "delivered after {:?}", started.elapsed());
    let slow_view: IntegrationsView = slow.call("integrations", json!({})).await.expect("view");
    assert!(
        slow_view.deliveries.iter().all(|d| d.attempts == 0),
        "the silent shop's first tries were still waiting for an answer"
    );
}

async fn wait_for_view(merchant: &Browser, done: impl Fn(&IntegrationsView) -> bool) -> IntegrationsView {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view: IntegrationsView = merchant.call("integrations", json!({})).await.expect("view");
        if done(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "timed out: {:?}", view.deliveries);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_payout_run_pays_approved_balances_once_and_tells_klaviyo_once() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCPAY8", "pk_live_payoutpayoutpayoutpayout01", "LISTP");
    let (merchant, campaign_id, landing) =
        connected_merchant(&app, "pk_live_payoutpayoutpayoutpayout01", "LISTP", true).await;
    // A minimum payout of 20.00: Bo's 5.00 waits for a later run.
    let mut form = campaign_form(json!({"name": "Trail Partners", "auto_approve": true, "min_payout": "20.00"}));
    form["slug"] = json!(landing.rsplit('/').next().expect("slug"));
    let _: Value = merchant.call("update_campaign", json!({"id": campaign_id, "form": form})).await.expect("updated");
    for (name, email) in [("Ana Lima", "ana@example.com"), ("Bo Berg", "bo@example.com")] {
        let (status, _) = merchant.apply(&landing, &application(name, email)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let portal = merchant.find("ana@example.com").await;
    let api = Api::new(&app, &merchant).await;
    let (ana, bo) = (code_of(&merchant, "ana@example.com").await, code_of(&merchant, "bo@example.com").await);
    for (order, minor, code) in [("A-1", 20_000, &ana), ("A-2", 10_000, &ana), ("B-1", 5_000, &bo)] {
        let (status, answer) = api.post("/api/v1/conversions", None, conversion(order, minor, code)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    wait_for_events(&app, "ACCPAY8", "Rekomi Commission Earned", 3).await;

    // Nothing is due during the hold period.
    let (_, early) = merchant.call::<RunView>("create_payout_run", json!({})).await.expect_err("nothing due");
    assert!(early.message.contains("Nothing is due"), "{}", early.message);

    // After it: Ana's 30.00 is paid, Bo's 5.00 is below the minimum.
    let approved = earnings::approve_due(&app.db, now_ms() + 31 * DAY_MS).await.expect("approved");
    assert_eq!(approved, 3);
    wait_for_events(&app, "ACCPAY8", "Rekomi Commission Approved", 3).await;
    let run: RunView = merchant.call("create_payout_run", json!({})).await.expect("run");
    assert_eq!((run.payouts.len(), run.totals.clone()), (1, vec!["30.00 USD".to_owned()]));
    assert_eq!((run.payouts[0].payout_email.as_str(), run.payouts[0].lines), ("ana@example.com", 2));

    // A refund while the run is open can't change what the file says: it becomes a negative line.
    let (status, _) =
        api.post("/api/v1/conversions/A-2/refunds", None, json!({"refund_id": "R-1", "amount_minor": 10_000})).await;
    assert_eq!(status, StatusCode::OK);

    let jar = merchant.client.clone();
    let file = jar.get(app.url(&format!("/api/payouts/{}/paypal?currency=USD", run.id))).send().await.expect("file");
    assert_eq!(file.status(), StatusCode::OK);
    assert!(file.headers()["content-disposition"].to_str().expect("ascii").contains("paypal.csv"));
    let text = file.text().await.expect("text");
    let payout = run.payouts[0].id;
    assert_eq!(
        text,
        format!(
            "ana@example.com,30.00,USD,RK{}-{payout},Affiliate commission: payout {payout} (2 commissions),PAYPAL\n",
            run.id
        )
    );
    let wise =
        jar.get(app.url(&format!("/api/payouts/{}/wise", run.id))).send().await.expect("file").text().await.expect("t");
    assert_eq!(
        wise,
        format!(
            "name,recipientEmail,paymentReference,receiverType,amountCurrency,amount,sourceCurrency,targetCurrency\n\
             Ana Lima,ana@example.com,Commission RK{}-{payout},PERSON,target,30.00,USD,USD\n",
            run.id
        )
    );
    let anonymous =
        reqwest::Client::new().get(app.url(&format!("/api/payouts/{}/csv", run.id))).send().await.expect("ok");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let stranger = app.merchant("Nosy Shop").await;
    let theirs =
        stranger.client.clone().get(app.url(&format!("/api/payouts/{}/csv", run.id))).send().await.expect("ok");
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND, "another merchant's run doesn't exist for them");

    let blank = merchant.call::<RunView>("mark_run_paid", json!({"id": run.id, "reference": " "})).await;
    assert!(blank.expect_err("a reference is required").1.fields.iter().any(|(f, _)| f == "reference"));
    let paid: RunView =
        merchant.call("mark_run_paid", json!({"id": run.id, "reference": "PP-BATCH-1"})).await.expect("paid");
    assert_eq!((paid.state.as_str(), paid.reference.as_deref()), ("paid", Some("PP-BATCH-1")));
    let twice = merchant.call::<RunView>("mark_run_paid", json!({"id": run.id, "reference": "PP-BATCH-2"})).await;
    assert!(twice.is_err(), "a run is paid once");

    let sent = wait_for_events(&app, "ACCPAY8", "Rekomi Payout Sent", 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(events(&app, "ACCPAY8", "Rekomi Payout Sent").await.len(), 1, "exactly once");
    let props = &sent[0]["properties"];
    assert_eq!(
        (props["amount"].clone(), props["currency"].clone(), props["reference"].clone()),
        (json!(30.0), json!("USD"), json!("PP-BATCH-1"))
    );

    // The refund's negative line (-10.00) and Bo's 5.00 wait; the API lists the payout as paid.
    let page: PayoutsPage = merchant.call("payouts", json!({})).await.expect("page");
    assert_eq!(page.outstanding[0].approved, "-5.00 USD");
    let (_, payouts) = api.get("/api/v1/payouts").await;
    assert_eq!(
        (payouts["data"][0]["state"].clone(), payouts["data"][0]["amount"].clone()),
        (json!("paid"), json!(30.0))
    );
    let (_, lines) = api.get("/api/v1/commissions?state=paid&affiliate_email=ana@example.com").await;
    assert_eq!(lines["data"].as_array().map(Vec::len), Some(2));

    // The affiliate's portal shows it paid.
    let link: (String, bool) = merchant.call("portal_link", json!({"id": portal.id})).await.expect("link");
    let visitor = app.browser();
    let token = link.0.rsplit("token=").next().expect("token").to_owned();
    let shop_path = link.0.split("/login").next().expect("base").to_owned();
    let signed = visitor.client.post(format!("{shop_path}/login")).form(&[("token", token.as_str())]).send().await;
    assert_eq!(signed.expect("signed in").status(), StatusCode::SEE_OTHER);
    let html = visitor.client.get(&shop_path).send().await.expect("portal").text().await.expect("html");
    assert!(html.contains("Paid ") && html.contains("30.00 USD"), "{html}");
}

#[tokio::test]
async fn switched_off_events_are_not_sent_and_exports_cover_a_date_range() {
    let app = spawn_app().await;
    klaviyo_account(&app, "ACCOFF8", "pk_live_eventsoffeventsoffevents01", "LISTO");
    let (merchant, _, landing) = connected_merchant(&app, "pk_live_eventsoffeventsoffevents01", "LISTO", true).await;
    let view: IntegrationsView =
        merchant.call("switch_event", json!({"metric": "Rekomi Affiliate Applied", "on": false})).await.expect("off");
    assert!(!view.events.iter().find(|e| e.metric == "Rekomi Affiliate Applied").expect("listed").on);
    let refused = merchant
        .call::<IntegrationsView>("switch_event", json!({"metric": "Rekomi Affiliate Invited", "on": false}))
        .await;
    assert!(refused.is_err(), "invites depend on their event");
    let (status, _) = merchant.apply(&landing, &application("Ana Lima", "ana@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let approved = wait_for_events(&app, "ACCOFF8", "Rekomi Affiliate Approved", 1).await;
    assert!(approved[0]["properties"]["link"].as_str().is_some_and(|l| l.contains("/r/")), "{}", approved[0]);
    assert!(events(&app, "ACCOFF8", "Rekomi Affiliate Applied").await.is_empty(), "switched off");

    // The Integrations table says which flows have something to trigger on.
    let mut view: IntegrationsView = merchant.call("integrations", json!({})).await.expect("view");
    for _ in 0..50 {
        if view.events.iter().any(|e| e.metric == "Rekomi Affiliate Approved" && e.received == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        view = merchant.call("integrations", json!({})).await.expect("view");
    }
    let row = |metric: &str| view.events.iter().find(|e| e.metric == metric).expect("listed").clone();
    let approved_row = row("Rekomi Affiliate Approved");
    assert_eq!((approved_row.received, approved_row.last_received_at.is_some()), (1, true));
    assert!(approved_row.recipe.contains("{{ event.link }}"), "{}", approved_row.recipe);
    assert_eq!((row("Rekomi Affiliate Applied").received, row("Rekomi Payout Sent").received), (0, 0));
    assert!(row("Rekomi Affiliate Login Link").always_on, "the portal's sign-in link depends on it");

    let jar = merchant.client.clone();
    let today = server::store::outbox::rfc3339(now_ms())[..10].to_owned();
    let csv =
        jar.get(app.url(&format!("/api/exports/affiliates.csv?from={today}&to={today}"))).send().await.expect("csv");
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.expect("text");
    assert!(text.starts_with("id,email,full_name") && text.contains("ana@example.com"), "{text}");
    let old = jar.get(app.url("/api/exports/affiliates.csv?from=2001-01-01&to=2001-01-31")).send().await.expect("csv");
    assert_eq!(old.text().await.expect("text").lines().count(), 1, "only the header outside the range");
    let bad = jar.get(app.url("/api/exports/affiliates.csv?from=yesterday")).send().await.expect("answered");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("text").contains("2026-11-01"));
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let app = spawn_app().await;
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json")).await.expect("doc").json().await.expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut documented: Vec<String> = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("ops").keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    assert_eq!(
        documented,
        [
            "GET /api/v1/affiliates",
            "GET /api/v1/affiliates/status",
            "GET /api/v1/commissions",
            "GET /api/v1/payouts",
            "POST /api/v1/affiliates/rate",
            "POST /api/v1/conversions",
            "POST /api/v1/conversions/{order_id}/refunds",
            "POST /api/v1/invites",
        ]
    );
    // Every documented operation is served (an unauthenticated call gets the API's 401, not a 404).
    for op in &documented {
        let (method, path) = op.split_once(' ').expect("op");
        let url = app.url(&path.replace("{order_id}", "X-1"));
        let request = if method == "GET" {
            reqwest::Client::new().get(url)
        } else {
            reqwest::Client::new().post(url).json(&json!({}))
        };
        assert_eq!(request.send().await.expect("answered").status(), StatusCode::UNAUTHORIZED, "{op}");
    }
    let docs = reqwest::get(app.url("/api/v1/docs")).await.expect("docs").text().await.expect("html");
    assert!(docs.contains("POST /api/v1/affiliates/rate") && docs.contains("Idempotency-Key"));
}

#[tokio::test]
async fn a_retry_that_takes_over_a_stalled_key_is_the_one_whose_answer_is_kept() {
    use server::store::api_tokens::{claim_key, finish_key, release_key, KeyState, KEY_CLAIM_MS};
    let app = spawn_app().await;
    let issued = app
        .services
        .accounts
        .sign_up("Key Shop", "keys@example.com", "correct horse battery", std::net::IpAddr::from([127, 0, 0, 1]))
        .await
        .expect("sign up");
    let merchant = issued.view.merchant_id;
    let t0 = now_ms();
    let KeyState::Claimed(first) = claim_key(&app.db, merchant, "k", "h", t0).await.expect("claim") else {
        panic!("a new key is claimed")
    };
    assert_eq!(claim_key(&app.db, merchant, "k", "h", t0 + 1_000).await.expect("claim"), KeyState::InProgress);
    // The first request stalls past the claim window: a retry takes the key over.
    let KeyState::Claimed(second) = claim_key(&app.db, merchant, "k", "h", t0 + KEY_CLAIM_MS + 1).await.expect("claim")
    else {
        panic!("a stalled claim is taken over")
    };
    assert_ne!(first, second);
    finish_key(&app.db, merchant, "k", &first, 201, "{\"from\":\"first\"}").await.expect("finish");
    release_key(&app.db, merchant, "k", &first).await.expect("release");
    assert_eq!(
        claim_key(&app.db, merchant, "k", "h", t0 + KEY_CLAIM_MS + 2).await.expect("claim"),
        KeyState::InProgress,
        "the stale request neither answered nor freed the key"
    );
    finish_key(&app.db, merchant, "k", &second, 201, "{\"from\":\"second\"}").await.expect("finish");
    assert_eq!(
        claim_key(&app.db, merchant, "k", "h", t0 + KEY_CLAIM_MS + 3).await.expect("claim"),
        KeyState::Answered("h".into(), 201, "{\"from\":\"second\"}".into())
    );
}

#[tokio::test]
async fn coupon_and_rate_are_saved_together_or_not_at_all() {
    let app = spawn_app().await;
    let merchant =
        shop(&app, "Coupon Shop", &[("Ana Lima", "ana@example.com"), ("Bo Berg", "bo@example.com")], json!({})).await;
    let (ana, bo) = (merchant.find("ana@example.com").await.id, merchant.find("bo@example.com").await.id);
    let saved: app::api::views::AffiliateEarnings = merchant
        .call("set_affiliate_terms", json!({"id": ana, "form": {"coupon_code": "ANA10", "rate_override": "12.5"}}))
        .await
        .expect("saved");
    assert_eq!((saved.coupon_code.as_str(), saved.rate_override.as_str()), ("ANA10", "12.5"));
    // Bo asks for Ana's coupon with a new rate: refused by name, and the rate is not half-saved.
    let (_, refused) = merchant
        .call::<app::api::views::AffiliateEarnings>(
            "set_affiliate_terms",
            json!({"id": bo, "form": {"coupon_code": "ana10", "rate_override": "30"}}),
        )
        .await
        .expect_err("the coupon is taken");
    assert!(refused.fields.iter().any(|(f, m)| f == "coupon_code" && m.contains("Another affiliate")), "{refused:?}");
    let api = Api::new(&app, &merchant).await;
    let (_, bo_status) = api.get("/api/v1/affiliates/status?email=bo@example.com").await;
    assert_eq!((bo_status["rate"]["percent"].clone(), bo_status["coupon_code"].clone()), (json!(10.0), Value::Null));
    // An order with Ana's coupon and no link earns her 12.5 %.
    let (status, answer) = api
        .post(
            "/api/v1/conversions",
            None,
            json!({"order_id": "C-1", "amount_minor": 8_000, "currency": "USD", "coupon_code": "Ana10"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(
        (answer["conversion"]["affiliate_id"].clone(), answer["conversion"]["commission_minor"].clone()),
        (json!(ana), json!(1000))
    );
}
