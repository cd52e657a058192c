use crate::helpers::{campaign_form, spawn_app};
use app::api::views::CampaignView;
use app::domain::campaign::CommissionRule;
use app::error::ErrorKind;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_new_campaign_gets_a_slug_a_public_page_and_terms_version_one() {
    let app = spawn_app().await;
    let merchant = app.merchant("Olive Goods").await;
    let created =
        merchant.create_campaign(campaign_form(json!({"name": "Café Partners 2026"}))).await.expect("created");
    assert_eq!(created.slug, "cafe-partners-2026");
    assert_eq!(created.landing_path, "/join/olive-goods/cafe-partners-2026");
    assert_eq!(created.terms_version, 1);
    assert!(matches!(created.commission, CommissionRule::Percent(rate) if rate.basis_points() == 1000));

    let listed: Vec<CampaignView> = merchant.call("list_campaigns", json!({})).await.expect("list");
    assert_eq!(listed, vec![created]);
}

#[tokio::test]
async fn flat_commissions_are_integer_minor_units() {
    let app = spawn_app().await;
    let merchant = app.merchant("Flat Shop").await;
    let form = campaign_form(json!({"commission_kind": "flat", "commission_amount": "12.5", "currency": "eur"}));
    let created = merchant.create_campaign(form).await.expect("created");
    match created.commission {
        CommissionRule::Flat(money) => assert_eq!((money.minor(), money.currency().code()), (1250, "EUR")),
        other => panic!("expected a flat commission, got {other:?}"),
    }
}

#[tokio::test]
async fn every_invalid_field_gets_its_own_message() {
    let app = spawn_app().await;
    let merchant = app.merchant("Errors Inc").await;
    let form = campaign_form(json!({
        "name": "", "pitch": " ", "terms": "", "commission_rate": "150", "cookie_days": "0",
        "currency": "XYZ", "destination_url": "shop.example.com"
    }));
    let (status, error) = merchant.create_campaign(form).await.expect_err("invalid");
    assert_eq!((status, error.kind), (StatusCode::UNPROCESSABLE_ENTITY, ErrorKind::Invalid));
    let expected = [
        ("name", "This field is required."),
        ("pitch", "This field is required."),
        ("terms", "This field is required."),
        ("commission_rate", "A percentage is more than 0 and at most 100, with at most two decimal places."),
        ("cookie_days", "Enter a whole number of days from 1 to 365."),
        ("currency", "“XYZ” is not a currency Rekomi supports; use a three-letter code such as USD or EUR."),
        ("destination_url", "Enter the shop's address starting with https://, like https://shop.example.com."),
    ];
    for (field, message) in expected {
        assert_eq!(error.fields.get(field), Some(message), "{field}");
    }
    let listed: Vec<CampaignView> = merchant.call("list_campaigns", json!({})).await.expect("list");
    assert!(listed.is_empty(), "nothing half-written");
}

#[tokio::test]
async fn a_slug_is_unique_per_merchant_only() {
    let app = spawn_app().await;
    let a = app.merchant("Shop A").await;
    let b = app.merchant("Shop B").await;
    a.create_campaign(campaign_form(json!({"slug": "vip"}))).await.expect("first");
    let (status, error) =
        a.create_campaign(campaign_form(json!({"name": "Other", "slug": "vip"}))).await.expect_err("clash");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error.fields.get("slug"), Some("Another of your campaigns uses this web address name; pick another."));
    b.create_campaign(campaign_form(json!({"slug": "vip"}))).await.expect("another merchant may use it");
}

#[tokio::test]
async fn changing_the_terms_starts_a_new_terms_version() {
    let app = spawn_app().await;
    let merchant = app.merchant("Versions").await;
    let created = merchant.create_campaign(campaign_form(json!({}))).await.expect("created");
    let renamed: CampaignView = merchant
        .call(
            "update_campaign",
            json!({"id": created.id, "form": campaign_form(json!({"name": "Renamed", "slug": created.slug}))}),
        )
        .await
        .expect("renamed");
    assert_eq!((renamed.name.as_str(), renamed.terms_version), ("Renamed", 1));
    let new_terms: CampaignView = merchant
        .call(
            "update_campaign",
            json!({"id": created.id, "form": campaign_form(json!({"terms": "New terms.", "slug": created.slug}))}),
        )
        .await
        .expect("updated");
    assert_eq!(new_terms.terms_version, 2);
    assert_eq!(new_terms.terms, "New terms.");
}

#[tokio::test]
async fn campaigns_need_a_signed_in_merchant() {
    let app = spawn_app().await;
    let (status, error) = app.browser().create_campaign(campaign_form(json!({}))).await.expect_err("anonymous");
    assert_eq!((status, error.message.as_str()), (StatusCode::UNAUTHORIZED, "Please log in to continue."));
}
