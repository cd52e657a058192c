use crate::helpers::{application, campaign_form, spawn_app, spawn_app_with, Options};
use app::api::views::QueueFilter;
use app::domain::AffiliateState;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_landing_page_is_plain_html_with_the_pitch_and_terms() {
    let app = spawn_app().await;
    let merchant = app.merchant("Sunny Socks").await;
    let campaign =
        merchant.create_campaign(campaign_form(json!({"pitch": "Socks <for> everyone"}))).await.expect("created");
    let response = reqwest::get(app.url(&campaign.landing_path)).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("body");
    assert!(html.contains("Sunny Socks"), "merchant name");
    assert!(html.contains("Socks &lt;for&gt; everyone"), "pitch, escaped");
    assert!(html.contains("No paid search on our brand."), "terms");
    assert!(html.contains("Program terms (version 1)"));
    assert!(html.contains("10% of each order"));
    assert!(!html.contains("<script"), "the public page needs no JavaScript");
    assert!(html.contains("<title>Spring Partners · Sunny Socks</title>"));
}

#[tokio::test]
async fn an_application_is_stored_with_the_split_name_and_the_consent() {
    let app = spawn_app().await;
    let merchant = app.merchant("Consent Co").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    let (status, html) =
        merchant.apply(&campaign.landing_path, &application("  Ana   van der Berg ", "Ana@Example.COM")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Thanks, Ana!"), "{html}");

    let stored = merchant.find("ana@example.com").await;
    assert_eq!((stored.first_name.as_str(), stored.last_name.as_deref()), ("Ana", Some("van der Berg")));
    assert_eq!(stored.full_name, "Ana van der Berg");
    assert_eq!(stored.state, AffiliateState::Pending);
    assert_eq!(stored.consent_terms_version, Some(1));
    assert!(stored.consent_at.is_some_and(|at| at == stored.applied_at));
    assert_eq!(stored.website.as_deref(), Some("@ana.creates"));
    assert_eq!(stored.source, "form");
    assert_eq!(stored.referral_code, None);
}

#[tokio::test]
async fn an_invalid_application_comes_back_with_errors_and_the_typed_values() {
    let app = spawn_app().await;
    let merchant = app.merchant("Strict Shop").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    let (status, html) = merchant
        .apply(
            &campaign.landing_path,
            &[("name", "Ana Silva"), ("email", "ana@"), ("message", "Hi</textarea><script>alert(1)</script>")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("An email address has one @ between a name and a domain, like ana@example.com."));
    assert!(html.contains("Please read and accept the program terms to apply."));
    assert!(html.contains(r#"value="Ana Silva""#), "the name is kept");
    assert!(html.contains(r#"value="ana@""#), "the email is kept");
    assert!(
        html.contains("Hi&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>"),
        "the message is kept, escaped: {html}"
    );
    assert!(!html.contains("<script>"), "typed input never becomes markup");
    let page = merchant.queue(QueueFilter::default()).await;
    assert_eq!(page.total, 0, "nothing stored");
}

#[tokio::test]
async fn applying_twice_is_idempotent_and_answers_as_the_first_time() {
    let app = spawn_app().await;
    let merchant = app.merchant("Twice").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    let (_, first) = merchant.apply(&campaign.landing_path, &application("Ana Silva", "ana@example.com")).await;
    let (status, html) = merchant.apply(&campaign.landing_path, &application("Ana Silva", "ANA@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    // The same answer as a new application: the form can't be used to find out who applied.
    assert!(html.contains("Thanks, Ana!") && first.contains("Thanks, Ana!"), "{html}");
    assert!(!html.contains("already"), "{html}");
    assert_eq!(merchant.queue(QueueFilter::default()).await.total, 1);

    let other = merchant.create_campaign(campaign_form(json!({"name": "Winter"}))).await.expect("second campaign");
    let (_, html) = merchant.apply(&other.landing_path, &application("Ana Silva", "ana@example.com")).await;
    assert!(html.contains("Thanks, Ana!") && !html.contains("already"), "{html}");
    assert!(
        !html.contains("Spring Partners"),
        "the answer names no other program, so it can't be used to look people up"
    );
    assert_eq!(merchant.queue(QueueFilter::default()).await.total, 1);
}

#[tokio::test]
async fn without_klaviyo_a_form_applicant_waits_for_the_merchant_to_confirm_their_email() {
    let app = spawn_app().await;
    let merchant = app.merchant("Quiet Co").await;
    let campaign = merchant.create_campaign(campaign_form(json!({"auto_approve": true}))).await.expect("created");
    let (status, html) =
        merchant.apply_unconfirmed(&campaign.landing_path, &application("Ana Silva", "ana@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    // Nothing can carry a link: the page promises none.
    assert!(html.contains("Quiet Co confirms your email address and reviews each application"), "{html}");
    assert!(!html.contains("sends a link"), "{html}");
    let ana = merchant.find("ana@example.com").await;
    assert_eq!((ana.state, ana.email_verified), (AffiliateState::Pending, false), "no auto-approve before");

    let refused = merchant.decide(&[ana.id], "approve").await.expect("answered");
    assert!(refused.changed.is_empty());
    assert!(refused.skipped[0].1.contains("email not confirmed"), "{refused:?}");

    let confirmed: app::api::views::DecisionOutcome =
        merchant.call("verify_emails", json!({"ids": [ana.id]})).await.expect("confirmed");
    let ana = confirmed.changed.first().expect("changed");
    assert!(ana.email_verified);
    assert_eq!(ana.state, AffiliateState::Approved, "the auto-approve campaign approves once confirmed");
    let again: app::api::views::DecisionOutcome =
        merchant.call("verify_emails", json!({"ids": [ana.id]})).await.expect("answered");
    assert_eq!(again.skipped[0].1, "email already confirmed");
}

#[tokio::test]
async fn identical_submissions_at_once_store_one_application() {
    let app = spawn_app().await;
    let merchant = app.merchant("Race").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    let fields = application("Ana Silva", "race@example.com");
    let attempts = (0..8).map(|_| merchant.apply(&campaign.landing_path, &fields));
    // All requests in flight together, so the inserts really race.
    let results = futures::future::join_all(attempts).await;
    assert!(
        results.iter().all(|(status, _)| *status == StatusCode::OK),
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert_eq!(merchant.queue(QueueFilter::default()).await.total, 1);
}

#[tokio::test]
async fn the_honeypot_drops_bots_silently() {
    let app = spawn_app().await;
    let merchant = app.merchant("Honey").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    let mut fields = application("Bot Bot", "bot@example.com");
    fields.push(("rk_trap", "http://spam.example"));
    let (status, html) = merchant.apply(&campaign.landing_path, &fields).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Thanks"));
    assert_eq!(merchant.queue(QueueFilter::default()).await.total, 0);
}

#[tokio::test]
async fn applications_are_rate_limited_per_address() {
    let app = spawn_app_with(Options { apply_per_minute: 2, ..Options::default() }).await;
    let merchant = app.merchant("Limits").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    for n in 0..2 {
        let email = format!("a{n}@example.com");
        let (status, _) = merchant.apply(&campaign.landing_path, &application("Ana Silva", &email)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let response = merchant
        .client
        .post(app.url(&campaign.landing_path))
        .form(&application("Ana Silva", "a9@example.com"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    let html = response.text().await.expect("body");
    assert!(html.contains("Try again in"), "{html}");
    assert_eq!(merchant.queue(QueueFilter::default()).await.total, 2);
}

#[tokio::test]
async fn unknown_and_closed_campaigns_are_proper_404_pages() {
    let app = spawn_app().await;
    let merchant = app.merchant("Closed Shop").await;
    let closed = merchant.create_campaign(campaign_form(json!({"accepting": false}))).await.expect("created");
    let unknown = reqwest::get(app.url("/join/nobody/nothing")).await.expect("answer");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.expect("body").contains("Program not found"));
    let response = reqwest::get(app.url(&closed.landing_path)).await.expect("answer");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.expect("body").contains("Applications are closed"));
    let (status, _) = merchant.apply(&closed.landing_path, &application("Ana Silva", "ana@example.com")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_auto_approve_campaign_approves_once_the_email_is_confirmed_and_records_it() {
    let app = spawn_app().await;
    let merchant = app.merchant("Auto").await;
    let campaign = merchant.create_campaign(campaign_form(json!({"auto_approve": true}))).await.expect("created");
    // Confirmed (by hand here; by the link in `sync::a_form_applicant_confirms_their_email…`).
    let (status, _) = merchant.apply(&campaign.landing_path, &application("Zoë Ørsted", "zoe@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let stored =
        merchant.queue(QueueFilter { state: Some(AffiliateState::Approved), ..Default::default() }).await.items;
    assert_eq!(stored.len(), 1);
    let code = stored[0].referral_code.clone().expect("a referral code");
    assert!(code.starts_with("zoe-") && code.len() == 9, "{code}");
    assert_eq!(stored[0].decided_by.as_deref(), Some("auto-approve"));
    let session: app::api::views::SessionView =
        merchant.call("current_session", json!({})).await.map(|s: Option<_>| s.expect("signed in")).expect("session");
    let trail =
        server::store::affiliates::audit_trail(&app.db, session.merchant_id, stored[0].id).await.expect("trail");
    let actions: Vec<(&str, &str)> =
        trail.iter().map(|(actor, action, ..)| (actor.as_str(), action.as_str())).collect();
    assert_eq!(actions[0], ("applicant", "applied"));
    assert_eq!(actions[1].1, "email verified by hand");
    assert_eq!(actions[2], ("auto-approve", "approved"));
}

#[tokio::test]
async fn consent_is_only_for_the_terms_version_the_applicant_was_shown() {
    let app = spawn_app().await;
    let merchant = app.merchant("Terms Co").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    let form = campaign_form(json!({"terms": "Stricter terms.", "slug": campaign.slug}));
    let _: app::api::views::CampaignView =
        merchant.call("update_campaign", json!({"id": campaign.id, "form": form})).await.expect("terms v2");

    let mut fields = application("Ana Silva", "ana@example.com");
    fields.push(("terms_version", "1"));
    let (status, html) = merchant.apply(&campaign.landing_path, &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("The program terms changed while you were reading."), "{html}");
    assert!(html.contains("Stricter terms.") && html.contains("Program terms (version 2)"));
    assert!(!html.contains("checked"), "the box must be ticked again for the new terms");
    assert_eq!(merchant.queue(QueueFilter::default()).await.total, 0);

    fields.pop();
    fields.push(("terms_version", "2"));
    let (status, _) = merchant.apply(&campaign.landing_path, &fields).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(merchant.find("ana@example.com").await.consent_terms_version, Some(2));
}

#[tokio::test]
async fn only_applications_that_parse_count_against_the_limit() {
    let app = spawn_app_with(Options { apply_per_minute: 1, ..Options::default() }).await;
    let merchant = app.merchant("Typos").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    for _ in 0..3 {
        let (status, _) = merchant.apply(&campaign.landing_path, &application("Ana Silva", "ana@")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, _) = merchant.apply(&campaign.landing_path, &application("Ana Silva", "ana@example.com")).await;
    assert_eq!(status, StatusCode::OK, "typos did not use up the allowance");
}

#[tokio::test]
async fn a_campaign_asks_its_own_questions_checks_the_answers_and_shows_them_in_the_queue_and_export() {
    use app::domain::questions::QuestionForm;
    let app = spawn_app().await;
    let merchant = app.merchant("Quiz Shop").await;
    let campaign = merchant.create_campaign(campaign_form(json!({"name": "Quiz Partners"}))).await.expect("campaign");
    let save = |questions: serde_json::Value| {
        merchant
            .call::<Vec<QuestionForm>>("save_campaign_questions", json!({"id": campaign.id, "questions": questions}))
    };
    let (status, refused) = save(json!([
        {"kind": "short_text", "label": "Your audience?", "required": true},
        {"kind": "choice", "label": "Main platform", "choices": "Instagram", "required": true},
    ]))
    .await
    .expect_err("one choice is no choice");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.fields.get("questions.1").is_some_and(|m| m.contains("two choices")), "{refused:?}");
    let saved = save(json!([
        {"kind": "short_text", "label": "Your audience?", "required": true},
        {"kind": "choice", "label": "Main platform", "choices": "Instagram\nTikTok", "required": true},
        {"kind": "long_text", "label": "Anything else?"},
        {"kind": "checkbox", "label": "I disclose paid posts", "required": true},
    ]))
    .await
    .expect("saved");
    assert_eq!(saved.len(), 4);
    assert!(saved.iter().all(|q| q.id.is_some()));
    let field = |i: usize| format!("q{}", saved[i].id.expect("stored"));

    // The page asks them as plain fields, still without a script.
    let page = reqwest::get(app.url(&campaign.landing_path)).await.expect("page").text().await.expect("html");
    for i in 0..4 {
        assert!(page.contains(&format!("name=\"{}\"", field(i))), "{page}");
    }
    assert!(
        page.contains("Anything else? (optional)") && page.contains(">TikTok</option>") && !page.contains("<script")
    );

    // Missing and impossible answers are named, what was typed stays.
    let mut fields: Vec<(String, String)> =
        [("name", "Ana Lima"), ("email", "ana@example.com"), ("accept_terms", "on"), ("terms_version", "1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec();
    fields.push((field(1), "MySpace".to_owned()));
    fields.push((field(2), "Weekly newsletter".to_owned()));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, html) = merchant.apply_unconfirmed(&campaign.landing_path, &refs).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    for message in ["Please answer this question.", "Pick one of the choices.", "Tick this box to apply."] {
        assert!(html.contains(message), "{message}: {html}");
    }
    assert!(html.contains("Weekly newsletter"), "the typed answer is kept");
    assert!(html.contains("<li>Main platform: Pick one of the choices.</li>"), "the summary names the question");
    assert!(merchant.queue(QueueFilter::default()).await.items.is_empty(), "nothing saved");

    fields.retain(|(k, _)| k != &field(1));
    fields.push((field(0), "Outdoor fans, 20k".to_owned()));
    fields.push((field(1), "TikTok".to_owned()));
    fields.push((field(3), "on".to_owned()));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, html) = merchant.apply(&campaign.landing_path, &refs).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let queued = merchant.queue(QueueFilter::default()).await.items;
    let expected = [
        ("Your audience?", "Outdoor fans, 20k"),
        ("Main platform", "TikTok"),
        ("Anything else?", "Weekly newsletter"),
        ("I disclose paid posts", "Yes"),
    ]
    .map(|(q, a)| (q.to_owned(), a.to_owned()));
    assert_eq!(queued[0].answers, expected);

    // A question taken off the form is retired: the answers given to it keep its wording.
    let kept: Vec<QuestionForm> = saved[1..].to_vec();
    let now = save(serde_json::to_value(&kept).expect("json")).await.expect("saved");
    assert_eq!(now.len(), 3);
    assert_eq!(merchant.queue(QueueFilter::default()).await.items[0].answers, expected);
    let csv = merchant.client.get(app.url("/api/exports/affiliates.csv")).send().await.expect("csv");
    let csv = csv.text().await.expect("text");
    assert!(
        csv.contains("Your audience?: Outdoor fans, 20k; Main platform: TikTok; Anything else?: Weekly newsletter; I disclose paid posts: Yes"),
        "{csv}"
    );

    // Another merchant can neither read nor change them.
    let stranger = app.merchant("Other Shop").await;
    let (status, _) = stranger
        .call::<Vec<QuestionForm>>("campaign_questions", json!({"id": campaign.id}))
        .await
        .expect_err("not theirs");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = stranger
        .call::<Vec<QuestionForm>>("save_campaign_questions", json!({"id": campaign.id, "questions": []}))
        .await
        .expect_err("not theirs");
    assert_eq!(status, StatusCode::NOT_FOUND);
}
