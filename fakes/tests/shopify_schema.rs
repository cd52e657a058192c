//! Shopify's schema file, as the fake and Rekomi's client use it: every document Rekomi sends
//! validates, and what Shopify would refuse is refused.

use fakes::shopify::schema::{AdminSchema, Refusal};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

fn granted(scopes: &[&str]) -> BTreeSet<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

fn vars(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn all_scopes() -> BTreeSet<String> {
    fakes::shopify::full_scopes().into_iter().collect()
}

/// Terms with every optional part set, so the input carries every field Rekomi may send.
fn terms() -> shared::domain::discount::DiscountTerms {
    let form = shared::domain::discount::DiscountForm {
        kind: "amount".into(),
        value: "5".into(),
        min_subtotal: "25".into(),
        ends_on: "2099-12-31".into(),
        ..shared::domain::discount::DiscountForm::suggested()
    };
    form.parse(shared::domain::Currency::parse("USD").expect("listed"), 0).expect("valid")
}

#[test]
fn every_document_rekomi_sends_validates_against_shopify_s_schema() {
    let schema = AdminSchema::shared().expect("the schema file loads");
    for document in backend::shopify::documents::ALL {
        let variables = match document.name {
            "WebhookList" => json!({ "first": 100 }),
            "WebhookCreate" => json!({ "topic": "ORDERS_PAID", "uri": "https://rekomi.example/webhooks/shopify/shop" }),
            "WebhookDelete" => json!({ "id": "gid://shopify/WebhookSubscription/1" }),
            "DiscountCreate" | "DiscountUpdate" => json!({
                "id": "gid://shopify/DiscountCodeNode/1",
                "input": backend::services::discounts::discount_input(&terms(), "Rekomi · Spring", Some("ANA"), 0),
            }),
            "DiscountDeactivate" | "DiscountActivate" => json!({ "id": "gid://shopify/DiscountCodeNode/1" }),
            "CodesAdd" => json!({ "discountId": "gid://shopify/DiscountCodeNode/1", "codes": [{ "code": "ANA" }] }),
            "CodesStatus" => json!({ "id": "gid://shopify/DiscountRedeemCodeBulkCreation/1" }),
            "CodesAdded" => json!({ "id": "gid://shopify/DiscountRedeemCodeBulkCreation/1", "first": 250 }),
            "CodesRemove" => {
                json!({ "discountId": "gid://shopify/DiscountCodeNode/1", "ids": ["gid://shopify/DiscountRedeemCode/1"] })
            }
            "JobDone" => json!({ "id": "gid://shopify/Job/1" }),
            "CodeLookup" => json!({ "code": "ANA" }),
            "CustomerFind" => json!({ "email": "ana@example.com" }),
            "CustomerCreate" => {
                json!({ "input": { "email": "ana@example.com", "firstName": "Ana", "lastName": null, "tags": ["Rekomi affiliate"] } })
            }
            "StoreCredit" => {
                json!({ "id": "gid://shopify/Customer/1", "amount": { "amount": "12.50", "currencyCode": "USD" } })
            }
            "StoreCreditRecent" => json!({ "id": "gid://shopify/Customer/1" }),
            "OrdersSince" => json!({ "first": 25, "query": "updated_at:>='2026-12-01T00:00:00Z'" }),
            _ => json!({}),
        };
        if let Err(refusal) = schema.check(document.text, Some(document.name), &vars(variables), &all_scopes()) {
            panic!("{} does not validate: {refusal:?}", document.name);
        }
    }
}

#[test]
fn what_shopify_refuses_is_refused() {
    let schema = AdminSchema::shared().expect("the schema file loads");
    let none = BTreeSet::new();
    let invalid = |query: &str, variables: Value| match schema.check(query, None, &vars(variables), &all_scopes()) {
        Err(Refusal::Invalid(messages)) => messages.join(" "),
        other => panic!("{query} was not refused as invalid: {other:?}"),
    };
    assert!(invalid("{ shop { nmae } }", json!({})).contains("nmae"));
    assert!(invalid("{ shop { plan { displayName(x: 1) } } }", json!({})).contains("x"));
    // An enum value that is not in the schema (the privacy topics are not API-subscribable).
    let create = "mutation($uri: String!) { webhookSubscriptionCreate(topic: SHOP_REDACT, webhookSubscription: {uri: $uri}) { userErrors { field message } } }";
    assert!(invalid(create, json!({ "uri": "https://x" })).contains("SHOP_REDACT"));
    // `UserError` has no `code`.
    let with_code =
        "mutation { webhookSubscriptionDelete(id: \"gid://shopify/WebhookSubscription/1\") { userErrors { code } } }";
    assert!(invalid(with_code, json!({})).contains("code"));
    // A variable of the wrong type, and a required one missing.
    let list = backend::shopify::documents::WEBHOOK_LIST.text;
    assert!(!invalid(list, json!({ "first": "ten" })).is_empty());
    assert!(!invalid(list, json!({})).is_empty());

    // Scopes: orders need read_orders (write_orders includes it); a discount mutation needs write_discounts.
    let orders = "{ orders(first: 1) { nodes { id name } } }";
    match schema.check(orders, None, &Map::new(), &none) {
        Err(Refusal::AccessDenied { field, scopes }) => {
            // The scope is on the `Order` type, so the field that returns one is named.
            assert_eq!(field, "OrderConnection.nodes");
            assert!(scopes.contains(&"read_orders".to_owned()), "{scopes:?}");
        }
        other => panic!("orders without a scope: {other:?}"),
    }
    assert!(schema.check(orders, None, &Map::new(), &granted(&["write_orders"])).is_ok());
    let deactivate =
        "mutation { discountCodeDeactivate(id: \"gid://shopify/DiscountCodeNode/1\") { userErrors { message } } }";
    match schema.check(deactivate, None, &Map::new(), &granted(&["read_discounts"])) {
        Err(Refusal::AccessDenied { scopes, .. }) => assert_eq!(scopes, vec!["write_discounts".to_owned()]),
        other => panic!("a discount mutation with read only: {other:?}"),
    }
}
