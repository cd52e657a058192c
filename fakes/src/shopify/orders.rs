//! Orders, refunds and cancellations placed through the control API, and the webhooks Shopify
//! sends for them: the REST-shaped JSON payload of the subscription's topic, signed with the
//! subscribing app's secret (`X-Shopify-Hmac-Sha256`), with Shopify's headers, and retried like
//! Shopify does when the endpoint doesn't answer 2xx in time (on a compressed schedule). Faults can
//! drop deliveries (for recovery by reconcile) or fail the first attempts.

use super::world::{WebhookSubscription, World};
use super::Fake;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// An order the fake shop holds.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub name: String,
    pub payload: Value,
    pub refunds: Vec<Value>,
    pub updated_at: String,
}

/// One webhook sent (or being sent): for the control API and the tests.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub shop: String,
    pub webhook_id: String,
    pub topic: String,
    pub uri: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub delivered: bool,
    pub dropped: bool,
}

#[derive(Debug, Deserialize)]
pub struct NewOrder {
    pub subtotal: String,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub discount_codes: Vec<String>,
    #[serde(default)]
    pub note_attributes: Vec<Value>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub customer_id: Option<u64>,
    #[serde(default)]
    pub landing_site: Option<String>,
    /// The checkout's token (the custom pixel reports it with the order id).
    #[serde(default)]
    pub checkout_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NewRefund {
    pub amount: String,
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What one event sends: to each subscription of the topic, its body and its app's secret.
struct Outgoing {
    shop: String,
    topic: String,
    body: Vec<u8>,
    targets: Vec<(WebhookSubscription, String)>,
}

fn outgoing(world: &World, shop: &str, enum_topic: &str, topic: &str, payload: &Value) -> Outgoing {
    let targets = world
        .shops
        .get(shop)
        .map(|s| {
            s.webhooks
                .iter()
                .filter(|w| w.topic == enum_topic)
                .filter_map(|w| {
                    let app = s.apps.get(&w.client_id).filter(|a| a.installed)?;
                    Some((w.clone(), app.client_secret.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    Outgoing { shop: shop.to_owned(), topic: topic.to_owned(), body: payload.to_string().into_bytes(), targets }
}

/// Sends an event to its subscribers in the background, retrying as Shopify does.
fn deliver(fake: &Fake, out: Outgoing) -> usize {
    let count = out.targets.len();
    for (subscription, secret) in out.targets {
        let webhook_id = format!("{:032x}", rand::random::<u128>());
        let (drop_it, fail_first, delays) = {
            let Ok(mut world) = fake.world.lock() else { continue };
            let drop_it = world.faults.drop_deliveries;
            world.deliveries.push(Delivery {
                shop: out.shop.clone(),
                webhook_id: webhook_id.clone(),
                topic: out.topic.clone(),
                uri: subscription.uri.clone(),
                attempts: 0,
                last_status: None,
                delivered: false,
                dropped: drop_it,
            });
            (drop_it, world.faults.fail_first_deliveries, world.faults.retry_delays_ms.clone())
        };
        if drop_it {
            continue;
        }
        let signature = sign(&secret, &out.body);
        let (fake, body, shop, topic) = (fake.clone(), out.body.clone(), out.shop.clone(), out.topic.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
            // Shopify: 8 retries over 4 hours. Here the same count on a schedule a test can wait for.
            let delays =
                if delays.is_empty() { vec![500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000] } else { delays };
            for attempt in 0..=delays.len() {
                let status = if attempt < fail_first as usize {
                    Some(503)
                } else {
                    client
                        .post(&subscription.uri)
                        .header("Content-Type", "application/json")
                        .header("X-Shopify-Topic", &topic)
                        .header("X-Shopify-Hmac-Sha256", &signature)
                        .header("X-Shopify-Shop-Domain", &shop)
                        .header("X-Shopify-API-Version", backend::shopify::API_VERSION)
                        .header("X-Shopify-Webhook-Id", &webhook_id)
                        .header("X-Shopify-Event-Id", &webhook_id)
                        .header("X-Shopify-Triggered-At", now_text())
                        .body(body.clone())
                        .send()
                        .await
                        .ok()
                        .map(|r| r.status().as_u16())
                };
                let ok = status.is_some_and(|s| (200..300).contains(&s));
                if let Ok(mut world) = fake.world.lock() {
                    if let Some(d) = world.deliveries.iter_mut().find(|d| d.webhook_id == webhook_id) {
                        d.attempts += 1;
                        d.last_status = status;
                        d.delivered = ok;
                    }
                }
                if ok {
                    return;
                }
                if let Some(delay) = delays.get(attempt) {
                    tokio::time::sleep(Duration::from_millis(*delay)).await;
                }
            }
        });
    }
    count
}

/// `POST /_fake/shopify/shops/{shop}/orders`: a paid order; `orders/paid` goes to subscribers.
pub async fn place(State(fake): State<Fake>, Path(shop): Path<String>, Json(new): Json<NewOrder>) -> Response {
    let (order, out) = {
        let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
        let Some(found) = world.shops.get_mut(&shop) else { return StatusCode::NOT_FOUND.into_response() };
        let currency = new.currency.clone().unwrap_or_else(|| found.currency.clone());
        found.order_number += 1;
        // Shopify order ids are 13 digits today (safe as JavaScript numbers).
        let id = 5_800_000_000_000 + found.order_number;
        let name = format!("#{}", 1000 + found.order_number);
        let now = now_text();
        let customer = match (new.customer_id, &new.email) {
            (None, None) => Value::Null,
            (id, email) => json!({
                "id": id.unwrap_or(115_310_627_314_723_954 + found.order_number),
                "email": email,
                "admin_graphql_api_id": format!("gid://shopify/Customer/{}", id.unwrap_or(115_310_627_314_723_954 + found.order_number)),
            }),
        };
        let payload = json!({
            "id": id,
            "admin_graphql_api_id": format!("gid://shopify/Order/{id}"),
            "name": name,
            "order_number": 1000 + found.order_number,
            "email": new.email,
            "contact_email": new.email,
            "currency": currency,
            "presentment_currency": currency,
            "subtotal_price": new.subtotal,
            "total_price": new.subtotal,
            "financial_status": "paid",
            "checkout_token": new.checkout_token,
            "landing_site": new.landing_site,
            "note_attributes": new.note_attributes,
            "discount_codes": new.discount_codes.iter().map(|c| json!({ "code": c, "amount": "0.00", "type": "percentage" })).collect::<Vec<_>>(),
            "customer": customer,
            "created_at": now, "processed_at": now, "updated_at": now,
            "cancelled_at": null,
            "line_items": [],
        });
        let order = Order { id, name, payload: payload.clone(), refunds: Vec::new(), updated_at: now };
        found.orders.push(order.clone());
        let out = outgoing(&world, &shop, "ORDERS_PAID", "orders/paid", &payload);
        (order, out)
    };
    let deliveries = deliver(&fake, out);
    (StatusCode::CREATED, Json(json!({ "id": order.id, "name": order.name, "deliveries": deliveries }))).into_response()
}

/// `POST /_fake/shopify/shops/{shop}/orders/{id}/refunds`: `refunds/create` to subscribers.
pub async fn refund(
    State(fake): State<Fake>,
    Path((shop, id)): Path<(String, u64)>,
    Json(new): Json<NewRefund>,
) -> Response {
    let (refund_id, out) = {
        let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
        let Some(found) = world.shops.get_mut(&shop) else { return StatusCode::NOT_FOUND.into_response() };
        found.order_number += 1;
        let refund_id = 509_562_969 + found.order_number;
        let Some(order) = found.orders.iter_mut().find(|o| o.id == id) else {
            return (StatusCode::NOT_FOUND, "no such order").into_response();
        };
        let currency = order.payload["currency"].clone();
        let now = now_text();
        let payload = json!({
            "id": refund_id,
            "order_id": id,
            "admin_graphql_api_id": format!("gid://shopify/Refund/{refund_id}"),
            "created_at": now, "processed_at": now,
            "refund_line_items": [],
            "transactions": [{ "kind": "refund", "status": "success", "amount": new.amount, "currency": currency }],
        });
        order.refunds.push(payload.clone());
        order.updated_at = now;
        let out = outgoing(&world, &shop, "REFUNDS_CREATE", "refunds/create", &payload);
        (refund_id, out)
    };
    let deliveries = deliver(&fake, out);
    (StatusCode::CREATED, Json(json!({ "id": refund_id, "deliveries": deliveries }))).into_response()
}

/// `POST /_fake/shopify/shops/{shop}/orders/{id}/cancel`: `orders/cancelled` to subscribers.
pub async fn cancel(State(fake): State<Fake>, Path((shop, id)): Path<(String, u64)>) -> Response {
    let out = {
        let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
        let Some(found) = world.shops.get_mut(&shop) else { return StatusCode::NOT_FOUND.into_response() };
        let Some(order) = found.orders.iter_mut().find(|o| o.id == id) else {
            return (StatusCode::NOT_FOUND, "no such order").into_response();
        };
        let now = now_text();
        order.payload["cancelled_at"] = json!(now);
        order.updated_at = now;
        let payload = order.payload.clone();
        outgoing(&world, &shop, "ORDERS_CANCELLED", "orders/cancelled", &payload)
    };
    let deliveries = deliver(&fake, out);
    Json(json!({ "deliveries": deliveries })).into_response()
}

/// `GET /_fake/shopify/shops/{shop}/deliveries`: every webhook the shop sent, with its attempts.
pub async fn deliveries(State(fake): State<Fake>, Path(shop): Path<String>) -> Response {
    let Ok(world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let list: Vec<Value> = world
        .deliveries
        .iter()
        .filter(|d| d.shop == shop)
        .map(|d| {
            json!({
                "webhook_id": d.webhook_id, "topic": d.topic, "uri": d.uri, "attempts": d.attempts,
                "last_status": d.last_status, "delivered": d.delivered, "dropped": d.dropped,
            })
        })
        .collect();
    Json(list).into_response()
}

/// The `orders` connection: `query` understands `updated_at:>='…'` (Shopify's search syntax for
/// what Rekomi asks), sorted by update time, paged by cursor.
pub fn graphql_orders(shop: &super::world::Shop, args: &serde_json::Map<String, Value>) -> Value {
    let first = args.get("first").and_then(Value::as_u64).unwrap_or(50).min(250) as usize;
    let after: usize = args.get("after").and_then(Value::as_str).and_then(|c| c.parse().ok()).unwrap_or(0);
    let query = args.get("query").and_then(Value::as_str).unwrap_or_default();
    let since = query
        .split_whitespace()
        .find_map(|term| term.strip_prefix("updated_at:>="))
        .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_owned());
    let mut matching: Vec<&Order> =
        shop.orders.iter().filter(|o| since.as_deref().is_none_or(|s| parse(&o.updated_at) >= parse(s))).collect();
    matching.sort_by_key(|o| (parse(&o.updated_at), o.id));
    let page: Vec<Value> = matching.iter().skip(after).take(first).map(|o| order_node(shop, o)).collect();
    let end = after + page.len();
    json!({
        "nodes": page,
        "pageInfo": { "hasNextPage": end < matching.len(), "endCursor": end.to_string(), "hasPreviousPage": after > 0, "startCursor": after.to_string() },
    })
}

fn parse(text: &str) -> i128 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_or(0, |t| t.unix_timestamp_nanos())
}

fn order_node(shop: &super::world::Shop, o: &Order) -> Value {
    let p = &o.payload;
    let currency = p["currency"].clone();
    let refunded: f64 = o
        .refunds
        .iter()
        .flat_map(|r| r["transactions"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["amount"].as_str().and_then(|a| a.parse::<f64>().ok()))
        .sum();
    let subtotal: f64 = p["subtotal_price"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let status = if refunded <= 0.0 {
        "PAID"
    } else if refunded < subtotal {
        "PARTIALLY_REFUNDED"
    } else {
        "REFUNDED"
    };
    let refunds: Vec<Value> = o
        .refunds
        .iter()
        .map(|r| {
            let transactions: Vec<Value> = r["transactions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    json!({
                        "kind": t["kind"].as_str().unwrap_or("refund").to_ascii_uppercase(),
                        "status": t["status"].as_str().unwrap_or("success").to_ascii_uppercase(),
                        "amountSet": { "shopMoney": { "amount": t["amount"], "currencyCode": t["currency"] } },
                    })
                })
                .collect();
            json!({
                "__typename": "Refund",
                "id": r["admin_graphql_api_id"],
                "legacyResourceId": r["id"].to_string(),
                "createdAt": r["created_at"],
                "refundLineItems": { "nodes": [], "pageInfo": { "hasNextPage": false, "endCursor": null } },
                "transactions": { "nodes": transactions, "pageInfo": { "hasNextPage": false, "endCursor": null } },
            })
        })
        .collect();
    json!({
        "__typename": "Order",
        "id": p["admin_graphql_api_id"],
        "legacyResourceId": o.id.to_string(),
        "name": o.name,
        "email": p["email"],
        "createdAt": p["created_at"],
        "processedAt": p["processed_at"],
        "updatedAt": o.updated_at,
        "cancelledAt": p["cancelled_at"],
        "displayFinancialStatus": status,
        "currencyCode": currency,
        "checkoutToken": p["checkout_token"],
        "landingPageUrl": p["landing_site"].as_str().map(|l| format!("https://{}{l}", shop.domain)),
        "discountCodes": p["discount_codes"].as_array().into_iter().flatten().map(|d| d["code"].clone()).collect::<Vec<_>>(),
        "subtotalPriceSet": { "shopMoney": { "amount": p["subtotal_price"], "currencyCode": currency } },
        "customAttributes": p["note_attributes"].as_array().into_iter().flatten()
            .map(|a| json!({ "key": a["name"], "value": a["value"] })).collect::<Vec<_>>(),
        "customer": if p["customer"].is_null() { Value::Null } else { json!({ "defaultEmailAddress": { "emailAddress": p["customer"]["email"] } }) },
        "refunds": refunds,
    })
}
