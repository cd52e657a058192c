use crate::helpers::{application, campaign_form, spawn_app};
use app::api::views::{QueueFilter, SessionView};
use app::domain::AffiliateState;
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test]
async fn the_queue_filters_by_state_campaign_and_search() {
    let app = spawn_app().await;
    let merchant = app.merchant("Filters").await;
    let spring = merchant.create_campaign(campaign_form(json!({"name": "Spring"}))).await.expect("spring");
    let winter = merchant.create_campaign(campaign_form(json!({"name": "Winter"}))).await.expect("winter");
    merchant.apply(&spring.landing_path, &application("Ana Silva", "ana@example.com")).await;
    merchant.apply(&spring.landing_path, &application("Bruno Costa", "bruno@example.com")).await;
    merchant.apply(&winter.landing_path, &application("Carla 100%_Real", "carla@example.org")).await;

    let all = merchant.queue(QueueFilter::default()).await;
    assert_eq!((all.total, all.counts.pending), (3, 3));
    let spring_only = merchant.queue(QueueFilter { campaign: Some(spring.id), ..Default::default() }).await;
    assert_eq!(spring_only.total, 2);
    let by_name = merchant.queue(QueueFilter { search: "BRUNO".into(), ..Default::default() }).await;
    assert_eq!(by_name.items.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(), ["bruno@example.com"]);
    let by_domain = merchant.queue(QueueFilter { search: "example.org".into(), ..Default::default() }).await;
    assert_eq!(by_domain.total, 1);
    let literal = merchant.queue(QueueFilter { search: "100%_".into(), ..Default::default() }).await;
    assert_eq!(literal.total, 1, "% and _ match literally");
    let wildcard = merchant.queue(QueueFilter { search: "%".into(), ..Default::default() }).await;
    assert_eq!(wildcard.total, 1, "a lone % is not a wildcard");

    let ana = merchant.find("ana@example.com").await;
    merchant.decide(&[ana.id], "approve").await.expect("approved");
    let pending = merchant.queue(QueueFilter { state: Some(AffiliateState::Pending), ..Default::default() }).await;
    assert_eq!((pending.total, pending.counts.pending, pending.counts.approved), (2, 2, 1));
}

#[tokio::test]
async fn bulk_approval_gives_unique_codes_and_records_who_decided() {
    let app = spawn_app().await;
    let merchant = app.merchant("Bulk").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    for n in 0..12 {
        let email = format!("ana{n}@example.com");
        merchant.apply(&campaign.landing_path, &application("Ana Silva", &email)).await;
    }
    let ids: Vec<_> = merchant.queue(QueueFilter::default()).await.items.iter().map(|a| a.id).collect();
    let outcome = merchant.decide(&ids, "approve").await.expect("approved");
    assert_eq!((outcome.changed.len(), outcome.skipped.len()), (12, 0));
    let codes: BTreeSet<String> = outcome.changed.iter().filter_map(|a| a.referral_code.clone()).collect();
    assert_eq!(codes.len(), 12, "every code is distinct");
    assert!(codes.iter().all(|c| c.starts_with("ana-") && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')));
    let session: Option<SessionView> = merchant.call("current_session", json!({})).await.expect("session");
    let session = session.expect("signed in");
    assert!(outcome
        .changed
        .iter()
        .all(|a| a.state == AffiliateState::Approved && a.decided_by.as_deref() == Some(session.user_email.as_str())));
    let trail = server::store::affiliates::audit_trail(&app.db, session.merchant_id, ids[0]).await.expect("trail");
    let last = trail.last().expect("entries");
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_deref(), last.3.as_deref()),
        (session.user_email.as_str(), "approved", Some("pending"), Some("approved"))
    );

    let again = merchant.decide(&ids[..2], "approve").await.expect("idempotent");
    assert_eq!(again.changed.len(), 0);
    assert_eq!(
        again.skipped.iter().map(|(_, why)| why.as_str()).collect::<Vec<_>>(),
        ["already approved", "already approved"]
    );
}

#[tokio::test]
async fn rejected_applications_can_be_approved_later_but_approved_ones_are_not_rejected() {
    let app = spawn_app().await;
    let merchant = app.merchant("Decisions").await;
    let campaign = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    merchant.apply(&campaign.landing_path, &application("Ana Silva", "ana@example.com")).await;
    let ana = merchant.find("ana@example.com").await;
    let rejected = merchant.decide(&[ana.id], "reject").await.expect("rejected");
    assert_eq!(rejected.changed[0].state, AffiliateState::Rejected);
    assert_eq!(rejected.changed[0].referral_code, None, "no code for a rejected applicant");
    let approved = merchant.decide(&[ana.id], "approve").await.expect("approved");
    assert!(approved.changed[0].referral_code.is_some());
    let refused = merchant.decide(&[ana.id], "reject").await.expect("answered");
    assert_eq!(refused.skipped, vec![(ana.id, "approved affiliates can't be rejected".to_owned())]);
}

#[tokio::test]
async fn a_bulk_decision_is_bounded() {
    let app = spawn_app().await;
    let merchant = app.merchant("Bounded").await;
    let ids: Vec<i64> = (1..=1001).collect();
    let (status, error) = merchant
        .call::<serde_json::Value>("decide_applications", json!({"ids": ids, "decision": "approve"}))
        .await
        .expect_err("too many");
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error.message, "Decide on at most 1000 applications at once.");
}
