//! Merchant B's session never reads or changes merchant A's rows, through any server function.

use crate::helpers::{application, campaign_form, spawn_app};
use app::api::views::{CampaignView, QueueFilter};
use app::domain::AffiliateState;
use app::error::ErrorKind;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn merchant_b_cannot_read_or_change_merchant_a_data() {
    let app = spawn_app().await;
    let a = app.merchant("Shop A").await;
    let b = app.merchant("Shop B").await;
    let secret = a.create_campaign(campaign_form(json!({"name": "A Secret Program"}))).await.expect("created");
    a.apply(&secret.landing_path, &application("Ana Silva", "ana@example.com")).await;
    let ana = a.find("ana@example.com").await;

    let (status, error) = b.call::<CampaignView>("get_campaign", json!({"id": secret.id})).await.expect_err("hidden");
    assert_eq!((status, error.kind), (StatusCode::NOT_FOUND, ErrorKind::NotFound));
    assert!(!error.message.contains("Secret"));

    let form = campaign_form(json!({"name": "Hijacked", "slug": secret.slug}));
    let (status, _) =
        b.call::<CampaignView>("update_campaign", json!({"id": secret.id, "form": form})).await.expect_err("hidden");
    assert_eq!(status, StatusCode::NOT_FOUND);

    let listed: Vec<CampaignView> = b.call("list_campaigns", json!({})).await.expect("list");
    assert!(listed.is_empty());

    let queue = b.queue(QueueFilter { campaign: Some(secret.id), ..Default::default() }).await;
    assert_eq!((queue.total, queue.counts.pending), (0, 0));
    let searched = b.queue(QueueFilter { search: "ana".into(), ..Default::default() }).await;
    assert_eq!(searched.total, 0);

    let outcome = b.decide(&[ana.id], "approve").await.expect("answered");
    assert!(outcome.changed.is_empty());
    assert_eq!(outcome.skipped, vec![(ana.id, "not found".to_owned())]);

    // A's rows are untouched.
    let still = a.find("ana@example.com").await;
    assert_eq!(still.state, AffiliateState::Pending);
    let mine: CampaignView = a.call("get_campaign", json!({"id": secret.id})).await.expect("mine");
    assert_eq!(mine.name, "A Secret Program");
    let _: Value = a.call("list_campaigns", json!({})).await.expect("A still works");
}
