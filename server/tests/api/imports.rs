//! Rewardful CSV import: the dry run names every bad cell, the confirmation applies every valid row
//! in one transaction (or nothing), a second import of the same file changes nothing, tokens become
//! referral codes, and "ask them" sends invites instead of subscribing.

use crate::helpers::{spawn_app, Browser, TestApp};
use crate::invites::{accept, connected_merchant, events, klaviyo_account, wait_for_events, wait_until_synced};
use app::api::views::{ImportProgress, ImportReport, InviteView};
use app::domain::AffiliateState;
use reqwest::StatusCode;
use serde_json::json;

const KEY: &str = "pk_live_importimportimportimport0001";
const LIST: &str = "IMPLST";

/// Posts a file (or confirms an import) and reads the NDJSON answer: progress lines, then the
/// report or an error message.
async fn stream(browser: &Browser, url: String, body: Option<Vec<u8>>) -> (StatusCode, Vec<ImportProgress>) {
    let mut request = browser.client.post(url);
    if let Some(body) = body {
        request = request.header("content-type", "text/csv").body(body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let lines =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not NDJSON: {l}: {e}"))).collect();
    (status, lines)
}

fn outcome(lines: &[ImportProgress]) -> Result<ImportReport, String> {
    match lines.last() {
        Some(ImportProgress::Report(r)) => Ok((**r).clone()),
        Some(ImportProgress::Error { message }) => Err(message.clone()),
        other => panic!("the stream ended with {other:?}"),
    }
}

async fn upload(merchant: &Browser, campaign: i64, consent: &str, file: &[u8]) -> ImportReport {
    let url = format!(
        "{}/api/imports/upload?campaign={campaign}&consent={consent}&filename=affiliates.csv",
        merchant.address
    );
    let (status, lines) = stream(merchant, url, Some(file.to_vec())).await;
    assert_eq!(status, StatusCode::OK);
    outcome(&lines).expect("a report")
}

async fn confirm(merchant: &Browser, id: i64) -> Result<ImportReport, String> {
    let (_, lines) = stream(merchant, format!("{}/api/imports/{id}/confirm", merchant.address), None).await;
    outcome(&lines)
}

async fn affiliate_count(app: &TestApp) -> i64 {
    let sql = "SELECT COUNT(*) FROM affiliates";
    match &app.db {
        server::store::Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        server::store::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("count")
}

const FILE: &str = "\u{feff}Affiliate First Name,Affiliate Last Name,Affiliate Email,Token,PayPal Email,state,campaign,Imported ID,visitors,Coupon Code\n\
Ana,van der Berg,ana@example.com,ana20,ana.pay@example.com,active,,rw_1,120,X\n\
Bo,Li,bo@example.com,boli,,disabled,,rw_2,,\n\
Cy,Ode,cy@example.com,cy,,suspicious,Trail Partners,rw_3,,\n\
Dee,,not-an-email,dee,,active,,rw_4,,\n\
Eve,,eve@example.com,ana20,,active,,rw_5,,\n\
Fay,,fay@example.com,fay,,gone,,rw_6,,\n\
Gus,,gus@example.com,,,active,No Such Campaign,rw_7,,\n";

#[tokio::test]
async fn a_dry_run_names_every_bad_cell_then_the_import_applies_the_rest_and_a_second_import_changes_nothing() {
    let app = spawn_app().await;
    klaviyo_account(&app, "IMP001", KEY, LIST);
    let (merchant, campaign, _) = connected_merchant(&app, KEY, LIST, false).await;

    let report = upload(&merchant, campaign, "elsewhere", FILE.as_bytes()).await;
    assert_eq!(report.state.as_str(), "ready");
    assert_eq!((report.rows, report.create, report.update, report.unchanged, report.errors), (7, 3, 0, 0, 4));
    assert_eq!(report.unknown_columns, vec!["Coupon Code".to_owned()]);
    let issues: Vec<(u64, &str)> = report.issues.iter().map(|i| (i.line, i.column.as_str())).collect();
    assert_eq!(
        issues,
        vec![(5, "Affiliate Email"), (6, "Token"), (7, "state"), (8, "campaign")],
        "{:?}",
        report.issues
    );
    assert!(report.issues[1].reason.contains("line 2"), "the clash names the row: {}", report.issues[1].reason);
    assert_eq!(affiliate_count(&app).await, 0, "a dry run writes nothing");

    let imported = confirm(&merchant, report.id).await.expect("imported");
    assert_eq!((imported.state.as_str(), imported.create), ("imported", 3));
    let ana = merchant.find("ana@example.com").await;
    assert_eq!(
        (ana.state, ana.referral_code.as_deref(), ana.source.as_str()),
        (AffiliateState::Approved, Some("ana20"), "import")
    );
    assert_eq!((ana.first_name.as_str(), ana.last_name.as_deref()), ("Ana", Some("van der Berg")));
    assert!(ana.consent_at.is_some(), "consent recorded with the import");
    assert_eq!(merchant.find("bo@example.com").await.state, AffiliateState::Disabled);
    assert_eq!(merchant.find("cy@example.com").await.state, AffiliateState::Pending, "suspicious → review");

    // The approved one lands in Klaviyo like any approval.
    wait_until_synced(&merchant, ana.id).await;

    // Confirming twice does nothing more.
    assert!(confirm(&merchant, report.id).await.expect_err("already imported").contains("already imported"));

    let again = upload(&merchant, campaign, "elsewhere", FILE.as_bytes()).await;
    assert_eq!((again.create, again.update, again.unchanged, again.errors), (0, 0, 3, 4), "{:?}", again.samples);
    assert_eq!(affiliate_count(&app).await, 3);
}

#[tokio::test]
async fn files_that_are_not_a_usable_csv_are_rejected_with_the_reason() {
    let app = spawn_app().await;
    klaviyo_account(&app, "IMP002", KEY, LIST);
    let (merchant, campaign, _) = connected_merchant(&app, KEY, LIST, false).await;
    let mut garbage = vec![0u8; 2 * 1024 * 1024];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "The file is empty"),
        ("no email", b"name,phone\nAna,123\n".to_vec(), "No email column. Columns found: \"name\", \"phone\""),
        ("utf-16", vec![0xFF, 0xFE, b'e', 0, b'm', 0], "UTF-16"),
        ("garbage", garbage, "not UTF-8"),
        (
            "unclosed quote",
            format!("email,first_name\na@example.com,\"Ana\n{}", "b@example.com,Bo\n".repeat(80)).into_bytes(),
            "never ends",
        ),
    ];
    for (case, bytes, expected) in cases {
        let report = upload(&merchant, campaign, "elsewhere", &bytes).await;
        assert_eq!(report.state.as_str(), "rejected", "{case}");
        let error = report.file_error.unwrap_or_default();
        assert!(error.contains(expected), "{case}: {error}");
        assert!(confirm(&merchant, report.id).await.is_err(), "{case}: a rejected file can't be imported");
    }
    assert_eq!(affiliate_count(&app).await, 0);

    // Not signed in, or no campaign: refused before reading.
    let url = format!("{}/api/imports/upload?campaign={campaign}&consent=elsewhere", app.address);
    let (status, lines) = stream(&app.browser(), url, Some(b"email\na@example.com\n".to_vec())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(outcome(&lines).is_err());
    let other = app.merchant("Other Shop").await;
    let url = format!("{}/api/imports/upload?campaign={campaign}&consent=elsewhere", app.address);
    let (_, lines) = stream(&other, url, Some(b"email\na@example.com\n".to_vec())).await;
    assert_eq!(outcome(&lines).expect_err("not their campaign"), "Pick one of your campaigns.".to_owned());
}

#[tokio::test]
async fn nothing_is_written_when_the_affiliates_changed_since_the_dry_run() {
    let app = spawn_app().await;
    klaviyo_account(&app, "IMP003", KEY, LIST);
    let (merchant, campaign, landing) = connected_merchant(&app, KEY, LIST, false).await;
    let file = b"email,first_name,last_name\nana@example.com,Ana,Berg\nbo@example.com,Bo,Li\n";
    let report = upload(&merchant, campaign, "elsewhere", file).await;
    assert_eq!(report.create, 2);
    // Ana applies through the landing page between the dry run and the confirmation.
    let (status, _) =
        merchant.apply(&landing, &[("name", "Ana Berg"), ("email", "ana@example.com"), ("accept_terms", "on")]).await;
    assert!(status.is_success());
    let error = confirm(&merchant, report.id).await.expect_err("the plan changed");
    assert!(error.contains("changed since the dry run"), "{error}");
    assert_eq!(affiliate_count(&app).await, 1, "only Ana's own application");
    let fresh: ImportReport = merchant.call("import_report", json!({"id": report.id})).await.expect("report");
    assert_eq!((fresh.create, fresh.update, fresh.unchanged, fresh.state.as_str()), (1, 0, 1, "ready"));
    let imported = confirm(&merchant, report.id).await.expect("confirmed against the new plan");
    assert_eq!((imported.create, imported.update), (1, 0));
    assert_eq!(affiliate_count(&app).await, 2);
    // Ana keeps the name and consent she gave herself.
    let ana = merchant.find("ana@example.com").await;
    assert_eq!(ana.source, "form");
}

#[tokio::test]
async fn asking_for_consent_sends_invites_and_subscribes_only_after_acceptance() {
    let app = spawn_app().await;
    klaviyo_account(&app, "IMP004", KEY, LIST);
    let (merchant, campaign, _) = connected_merchant(&app, KEY, LIST, false).await;
    let file = b"email,first_name,token,state\nana@example.com,Ana,ana20,active\nbo@example.com,Bo,bo,disabled\n";
    let report = upload(&merchant, campaign, "ask", file).await;
    assert_eq!((report.create, report.invites), (2, 1), "no invite for a disabled affiliate");
    confirm(&merchant, report.id).await.expect("imported");
    let ana = merchant.find("ana@example.com").await;
    assert_eq!((ana.state, ana.consent_at), (AffiliateState::Approved, None));
    let detail: app::api::views::AffiliateDetail =
        merchant.call("affiliate_detail", json!({"id": ana.id})).await.expect("detail");
    assert!(detail.syncs.is_empty(), "no Klaviyo sync before consent");

    let delivered = wait_for_events(&app, "IMP004", "Rekomi Affiliate Invited", 1).await;
    assert_eq!(delivered[0]["properties"]["reason"], "accept_terms");
    let invites: Vec<InviteView> = merchant.call("list_invites", json!({})).await.expect("invites");
    let link = invites.iter().find(|i| i.email == "ana@example.com").and_then(|i| i.link.clone()).expect("link");
    let (status, html) = accept(&app, &link, "Ana", true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("ana20"), "an approved affiliate sees their code: {html}");
    let ana = merchant.find("ana@example.com").await;
    assert!(ana.consent_at.is_some());
    wait_until_synced(&merchant, ana.id).await;
    {
        let world = app.klaviyo.world.lock().expect("world");
        let profile = world.accounts["IMP004"].profile_by_email("ana@example.com").expect("profile").clone();
        assert_eq!(profile.consent, "SUBSCRIBED");
    }
    // A second import asks nobody twice.
    let again = upload(&merchant, campaign, "ask", file).await;
    assert_eq!((again.create, again.update, again.invites), (0, 0, 0));
    assert_eq!(events(&app, "IMP004", "Rekomi Affiliate Invited").await.len(), 1);
}

#[tokio::test]
async fn a_reimport_that_approves_gives_a_code_and_invites_open_the_affiliates_own_campaign() {
    let app = spawn_app().await;
    klaviyo_account(&app, "IMP005", KEY, LIST);
    let (merchant, campaign, _) = connected_merchant(&app, KEY, LIST, false).await;
    let other = merchant
        .create_campaign(crate::helpers::campaign_form(json!({"name": "Creator Program"})))
        .await
        .expect("second campaign");
    let first =
        b"email,first_name,state,campaign\nana@example.com,Ana,suspicious,\nbo@example.com,Bo,active,Creator Program\n";
    let report = upload(&merchant, campaign, "ask", first).await;
    confirm(&merchant, report.id).await.expect("imported");
    let ana = merchant.find("ana@example.com").await;
    assert_eq!((ana.state, ana.referral_code.as_deref()), (AffiliateState::Pending, None));

    // Rewardful now says active: the re-import approves Ana, and she gets a code like any approval.
    let second =
        b"email,first_name,state,campaign\nana@example.com,Ana,active,\nbo@example.com,Bo,active,Creator Program\n";
    let report = upload(&merchant, campaign, "ask", second).await;
    assert_eq!((report.update, report.unchanged, report.invites), (1, 1, 0), "{:?}", report.samples);
    confirm(&merchant, report.id).await.expect("imported");
    let ana = merchant.find("ana@example.com").await;
    assert_eq!(ana.state, AffiliateState::Approved);
    assert!(ana.referral_code.is_some(), "an approved affiliate always has a code");

    // Bo joined the Creator Program, so his invite opens that program's page and terms.
    let invites: Vec<InviteView> = merchant.call("list_invites", json!({})).await.expect("invites");
    let bo = invites.iter().find(|i| i.email == "bo@example.com").expect("Bo was invited");
    assert_eq!(bo.campaign_id, other.id);
    assert!(bo.link.as_deref().is_some_and(|l| l.contains(&other.landing_path)), "{:?}", bo.link);
}

#[tokio::test]
async fn the_import_and_invite_pages_render_on_the_server() {
    let app = spawn_app().await;
    let merchant = app.merchant("Render Shop").await;
    for (path, heading) in [("/app/import", "Import from Rewardful"), ("/app/invites", "Invite affiliates")] {
        let html = streamed_page(&merchant.client, &app.url(path)).await;
        assert!(html.contains(heading) && html.contains("__INCOMPLETE_CHUNKS"), "{path}: {html}");
        // With no campaign yet, the page says so instead of offering an empty choice.
        assert!(html.contains("No campaigns yet") && html.contains("/app/campaigns/new"), "{path}: {html}");
        // The page is built once: its data (the session, the campaigns, the page's own list) is
        // loaded once each. It used to be rebuilt inside the layout's Suspense and load twice or
        // three times, and a dropped copy's resource could leave the stream open.
        assert_eq!(html.matches("__RESOLVED_RESOURCES[").count(), 3, "{path}: {html}");
    }
}

/// The whole streamed document. leptos 0.8.23 leaves about 0.3 % of streamed responses open under
/// load (an upstream race in Suspense; see the README's known issues), so a body that stalls for
/// 10 s is asked for once more, and said so, rather than failing the suite on that race.
async fn streamed_page(client: &reqwest::Client, url: &str) -> String {
    for attempt in 1..=2 {
        let limit = std::time::Duration::from_secs(10);
        let response = client.get(url).timeout(limit).send().await.expect("page");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        match response.text().await {
            Ok(html) => return html,
            Err(e) => eprintln!("{url}: attempt {attempt} stalled ({e}); the upstream streaming race"),
        }
    }
    panic!("{url}: the streamed page did not complete twice in a row");
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_log_in_before_any_page_renders() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for path in ["/app", "/app/queue", "/app/affiliates/1", "/app/campaigns/new"] {
        let response = client.get(app.url(path)).send().await.expect("answers");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()["location"], "/login", "{path}");
    }
    // A cookie of a session that ended is no session.
    let stale = client.get(app.url("/app")).header("cookie", "rekomi_session=ended").send().await.expect("answers");
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    // Public pages are not guarded.
    for path in ["/", "/login", "/signup"] {
        let response = client.get(app.url(path)).send().await.expect("answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn unconfirmed_dry_runs_are_limited_per_merchant_and_expire_with_their_files() {
    let app = spawn_app().await;
    klaviyo_account(&app, "IMP009", KEY, LIST);
    let (merchant, campaign, _) = connected_merchant(&app, KEY, LIST, false).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(upload(&merchant, campaign, "elsewhere", FILE.as_bytes()).await.id);
    }
    let waiting = |app: &TestApp| {
        let sql = "SELECT COUNT(*) FROM imports WHERE state = 'ready'";
        let db = app.db.clone();
        async move {
            match &db {
                server::store::Db::Sqlite(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
                server::store::Db::Postgres(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
            }
            .expect("count")
        }
    };
    assert_eq!(waiting(&app).await, server::services::imports::MAX_WAITING, "only the newest dry runs are kept");
    let expired = confirm(&merchant, ids[0]).await.expect_err("the oldest was dropped");
    assert!(expired.contains("expired"), "{expired}");

    // A day later every waiting dry run is gone with its file.
    let now = server::store::now_ms();
    assert_eq!(server::services::imports::expire(&app.db, now).await.expect("expire"), 0, "nothing is a day old yet");
    let gone = server::services::imports::expire(&app.db, now + server::services::imports::WAITING_MS + 1)
        .await
        .expect("expire");
    assert_eq!(gone, 5);
    assert_eq!(waiting(&app).await, 0);
    let expired = confirm(&merchant, ids[6]).await.expect_err("expired");
    assert!(expired.contains("Upload the file again"), "{expired}");
}
