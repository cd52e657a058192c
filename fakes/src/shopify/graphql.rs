//! `POST /admin/api/{version}/graphql.json`: token, then the document against the schema (scopes
//! included), then the cost bucket, then the operation on the world, projected onto the selection.

use super::schema::{AdminSchema, Checked, Refusal};
use super::world::{WebhookSubscription, World, BUCKET_MAX, RESTORE_RATE};
use super::{customers, discounts};
use super::{shop_of, Fake};
use apollo_compiler::ast::Value as AstValue;
use apollo_compiler::executable::{Field, Selection, SelectionSet};
use apollo_compiler::ExecutableDocument;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

fn errors(list: Vec<Value>) -> Response {
    (StatusCode::OK, Json(json!({ "errors": list }))).into_response()
}

pub async fn handle(
    State(fake): State<Fake>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shop = shop_of(&headers);
    let token = headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let Ok(schema) = AdminSchema::shared() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the fake has no schema").into_response();
    };
    let Ok(mut world) = fake.world.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    if let Some(status) = world.faults.graphql_status {
        return (StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), "fault injected")
            .into_response();
    }
    if !world.shops.contains_key(&shop) {
        return (StatusCode::NOT_FOUND, Json(json!({ "errors": "Not Found" }))).into_response();
    }
    let grant = world.tokens.get(&token).filter(|g| g.shop == shop && g.expires > std::time::Instant::now()).cloned();
    let Some(grant) = grant else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" })),
        )
            .into_response();
    };
    if version != backend::shopify::API_VERSION {
        // Shopify would answer an older or newer version; this fake only knows its schema's.
        return errors(vec![
            json!({ "message": format!("This fake serves API version {} only.", backend::shopify::API_VERSION) }),
        ]);
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(json!({ "errors": format!("Invalid JSON: {e}") }))).into_response()
        }
    };
    let Some(query) = request["query"].as_str() else {
        return errors(vec![
            json!({ "message": "Parameter Missing or Invalid", "extensions": { "code": "BAD_REQUEST" } }),
        ]);
    };
    let variables = request["variables"].as_object().cloned().unwrap_or_default();
    let operation_name = request["operationName"].as_str();
    let scopes =
        world.shops.get(&shop).and_then(|s| s.apps.get(&grant.client_id)).map(|a| a.scopes.clone()).unwrap_or_default();
    let checked = match schema.check(query, operation_name, &variables, &scopes) {
        Ok(checked) => checked,
        Err(Refusal::Invalid(messages)) => {
            return errors(
                messages
                    .into_iter()
                    .map(|m| json!({ "message": m, "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" } }))
                    .collect(),
            )
        }
        Err(Refusal::AccessDenied { field, scopes }) => {
            let required = scopes.iter().map(|s| format!("`{s}` access scope")).collect::<Vec<_>>().join(" or ");
            return errors(vec![json!({
                "message": format!("Access denied for {field} field. Required access: {required}."),
                "extensions": {
                    "code": "ACCESS_DENIED",
                    "documentation": "https://shopify.dev/api/usage/access-scopes",
                    "requiredAccess": format!("{required}."),
                },
            })]);
        }
    };
    world.calls.push((shop.clone(), checked.operation_name.clone().unwrap_or_default()));
    let Ok(operation) = checked.document.operations.get(checked.operation_name.as_deref()) else {
        return errors(vec![json!({ "message": "No operation." })]);
    };
    let cost = cost(&checked, &operation.selection_set, &variables);
    // Shopify refuses a single query that could cost more than its limit, whatever the bucket holds.
    if cost > BUCKET_MAX {
        return errors(vec![json!({
            "message": format!("Query cost is {cost}, which exceeds the single query max cost limit ({BUCKET_MAX})."),
            "extensions": { "code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": BUCKET_MAX },
        })]);
    }
    let available = match world.spend(&shop, &grant.client_id, cost) {
        Ok(left) => left,
        Err(left) => {
            world.throttled += 1;
            return (
                StatusCode::OK,
                Json(json!({
                    "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" } }],
                    "extensions": { "cost": cost_extension(cost, None, left) },
                })),
            )
                .into_response();
        }
    };
    let mut data = Map::new();
    for selection in &operation.selection_set.selections {
        let Selection::Field(field) = selection else { continue };
        let mut args = arguments(field, &variables);
        // Paging of a nested `codes` connection (a bulk creation's report).
        if let Some(codes) = field.selection_set.selections.iter().find_map(|s| match s {
            Selection::Field(f) if f.name == "codes" => Some(f),
            _ => None,
        }) {
            let nested = arguments(codes, &variables);
            for (k, v) in nested {
                args.insert(format!("__{k}"), v);
            }
        }
        let full = match run(&mut world, &shop, &grant.client_id, &scopes, field.name.as_str(), &args) {
            Ok(v) => v,
            Err(message) => {
                return errors(vec![json!({ "message": message, "path": [field.response_key().as_str()] })])
            }
        };
        data.insert(field.response_key().to_string(), project(&full, &field.selection_set, &checked.document));
    }
    if std::mem::take(&mut world.answer_lost) {
        return (StatusCode::BAD_GATEWAY, "upstream connection closed").into_response();
    }
    Json(json!({ "data": data, "extensions": { "cost": cost_extension(cost, Some(cost), available) } })).into_response()
}

fn cost_extension(requested: f64, actual: Option<f64>, available: f64) -> Value {
    json!({
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": { "maximumAvailable": BUCKET_MAX, "currentlyAvailable": available, "restoreRate": RESTORE_RATE },
    })
}

/// Shopify's calculated cost, simplified: a mutation 10, an object 1, a connection (or list) sized
/// by `first` (a literal or a variable) 2 plus that many of the objects it may return.
fn cost(checked: &Checked, set: &SelectionSet, variables: &Map<String, Value>) -> f64 {
    fn walk(set: &SelectionSet, doc: &ExecutableDocument, variables: &Map<String, Value>) -> f64 {
        set.selections
            .iter()
            .map(|s| match s {
                Selection::Field(f) if !f.selection_set.selections.is_empty() => {
                    let first =
                        f.arguments.iter().find(|a| a.name == "first").map(|a| match to_json(&a.value, variables) {
                            Value::Number(n) => n.as_f64().unwrap_or(1.0).max(1.0),
                            _ => 1.0,
                        });
                    let inner = walk(&f.selection_set, doc, variables);
                    match first {
                        Some(first) => 2.0 + first * inner.max(1.0),
                        None => 1.0 + inner,
                    }
                }
                Selection::Field(_) => 0.0,
                Selection::InlineFragment(i) => walk(&i.selection_set, doc, variables),
                Selection::FragmentSpread(s) => {
                    doc.fragments.get(&s.fragment_name).map_or(0.0, |f| walk(&f.selection_set, doc, variables))
                }
            })
            .sum()
    }
    let base = walk(set, &checked.document, variables);
    if checked.is_mutation {
        10.0 + base
    } else {
        base.max(1.0)
    }
}

/// A field's arguments as JSON, variables filled in.
fn arguments(field: &Field, variables: &Map<String, Value>) -> Map<String, Value> {
    field.arguments.iter().map(|a| (a.name.to_string(), to_json(&a.value, variables))).collect()
}

fn to_json(value: &AstValue, variables: &Map<String, Value>) -> Value {
    match value {
        AstValue::Null => Value::Null,
        AstValue::Enum(name) => Value::String(name.to_string()),
        AstValue::Variable(name) => variables.get(name.as_str()).cloned().unwrap_or(Value::Null),
        AstValue::String(s) => Value::String(s.clone()),
        AstValue::Float(f) => f.try_to_f64().ok().map_or(Value::Null, |f| json!(f)),
        AstValue::Int(i) => i.try_to_i32().ok().map_or(Value::Null, |i| json!(i)),
        AstValue::Boolean(b) => Value::Bool(*b),
        AstValue::List(items) => Value::Array(items.iter().map(|v| to_json(v, variables)).collect()),
        AstValue::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.to_string(), to_json(v, variables))).collect())
        }
    }
}

/// Keeps of `full` what the selection asks for, under each field's response key.
fn project(full: &Value, set: &SelectionSet, doc: &ExecutableDocument) -> Value {
    match full {
        Value::Array(items) => Value::Array(items.iter().map(|v| project(v, set, doc)).collect()),
        Value::Object(object) if !set.selections.is_empty() => {
            let mut out = Map::new();
            collect(object, set, doc, &mut out);
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn collect(object: &Map<String, Value>, set: &SelectionSet, doc: &ExecutableDocument, out: &mut Map<String, Value>) {
    let typename = object.get("__typename").and_then(Value::as_str).unwrap_or(set.ty.as_str());
    for selection in &set.selections {
        match selection {
            Selection::Field(f) => {
                let value = if f.name == "__typename" {
                    Value::String(typename.to_owned())
                } else {
                    project(object.get(f.name.as_str()).unwrap_or(&Value::Null), &f.selection_set, doc)
                };
                out.insert(f.response_key().to_string(), value);
            }
            Selection::InlineFragment(inline) => {
                let applies = inline.type_condition.as_ref().is_none_or(|t| t.as_str() == typename);
                if applies {
                    collect(object, &inline.selection_set, doc, out);
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.fragment_name) {
                    if fragment.type_condition().as_str() == typename {
                        collect(object, &fragment.selection_set, doc, out);
                    }
                }
            }
        }
    }
}

fn user_error(field: &[&str], message: &str) -> Value {
    json!({ "field": field, "message": message })
}

/// One root field on the world: the whole object it returns, before projection.
fn run(
    world: &mut World,
    shop: &str,
    client_id: &str,
    scopes: &std::collections::BTreeSet<String>,
    field: &str,
    args: &Map<String, Value>,
) -> Result<Value, String> {
    let Some(found) = world.shops.get_mut(shop) else { return Err("Not Found".into()) };
    match field {
        "shop" => Ok(json!({
            "__typename": "Shop",
            "id": "gid://shopify/Shop/1",
            "name": found.name,
            "myshopifyDomain": found.domain,
            "currencyCode": found.currency,
            "plan": { "publicDisplayName": found.plan, "displayName": found.plan, "partnerDevelopment": false, "shopifyPlus": false },
        })),
        "currentAppInstallation" => Ok(json!({
            "id": "gid://shopify/AppInstallation/1",
            "accessScopes": scopes.iter().map(|s| json!({ "handle": s, "description": s })).collect::<Vec<_>>(),
        })),
        "webhookSubscriptions" => {
            let first = args.get("first").and_then(Value::as_u64).unwrap_or(50) as usize;
            let after: usize = args.get("after").and_then(Value::as_str).and_then(|c| c.parse().ok()).unwrap_or(0);
            let mine: Vec<&WebhookSubscription> = found.webhooks.iter().filter(|w| w.client_id == client_id).collect();
            let page: Vec<Value> = mine.iter().skip(after).take(first).map(|w| webhook_json(w)).collect();
            let end = after + page.len();
            Ok(json!({
                "nodes": page,
                "edges": page.iter().enumerate().map(|(i, n)| json!({ "cursor": (after + i + 1).to_string(), "node": n })).collect::<Vec<_>>(),
                "pageInfo": { "hasNextPage": end < mine.len(), "endCursor": end.to_string(), "hasPreviousPage": after > 0, "startCursor": after.to_string() },
            }))
        }
        "webhookSubscriptionCreate" => {
            let topic = args.get("topic").and_then(Value::as_str).unwrap_or_default().to_owned();
            let uri = args["webhookSubscription"]["uri"].as_str().unwrap_or_default().to_owned();
            let valid = uri.starts_with("https://")
                || uri.starts_with("http://127.0.0.1")
                || uri.starts_with("http://localhost");
            if !valid {
                return Ok(
                    json!({ "webhookSubscription": null, "userErrors": [user_error(&["webhookSubscription", "callbackUrl"], "Address is invalid")] }),
                );
            }
            if found.webhooks.iter().any(|w| w.client_id == client_id && w.topic == topic && w.uri == uri) {
                return Ok(
                    json!({ "webhookSubscription": null, "userErrors": [user_error(&["webhookSubscription", "callbackUrl"], "Address for this topic has already been taken")] }),
                );
            }
            let id = found.gid("WebhookSubscription");
            let created_at = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let subscription = WebhookSubscription { id, topic, uri, created_at, client_id: client_id.to_owned() };
            let out = webhook_json(&subscription);
            found.webhooks.push(subscription);
            Ok(json!({ "webhookSubscription": out, "userErrors": [] }))
        }
        "webhookSubscriptionDelete" => {
            let id = args.get("id").and_then(Value::as_str).unwrap_or_default();
            let before = found.webhooks.len();
            found.webhooks.retain(|w| !(w.id == id && w.client_id == client_id));
            if found.webhooks.len() == before {
                return Ok(
                    json!({ "deletedWebhookSubscriptionId": null, "userErrors": [user_error(&["id"], "Webhook subscription does not exist")] }),
                );
            }
            Ok(json!({ "deletedWebhookSubscriptionId": id, "userErrors": [] }))
        }
        "discountCodeBasicCreate" => Ok(discounts::create(found, client_id, &args["basicCodeDiscount"])),
        "discountCodeBasicUpdate" => Ok(discounts::update(found, text(args, "id"), &args["basicCodeDiscount"])),
        "discountCodeActivate" => Ok(discounts::switch(found, text(args, "id"), true)),
        "discountCodeDeactivate" => Ok(discounts::switch(found, text(args, "id"), false)),
        "discountRedeemCodeBulkAdd" => Ok(discounts::bulk_add(found, text(args, "discountId"), &args["codes"])),
        "discountRedeemCodeBulkCreation" => {
            // The connection's paging lives on the nested `codes` field: read from its arguments.
            let (first, after) = nested_paging(args);
            Ok(discounts::bulk_creation(found, text(args, "id"), first, after))
        }
        "discountCodeRedeemCodeBulkDelete" => Ok(discounts::bulk_delete(found, text(args, "discountId"), &args["ids"])),
        "job" => Ok(discounts::job(found, text(args, "id"))),
        "codeDiscountNodeByCode" => Ok(discounts::by_code(found, text(args, "code"))),
        "orders" => Ok(super::orders::graphql_orders(found, args)),
        "customerByIdentifier" => Ok(customers::by_identifier(found, &args["identifier"])),
        "customer" => Ok(customers::by_id(found, text(args, "id"))),
        "customerCreate" => Ok(customers::create(found, &args["input"])),
        "storeCreditAccountCredit" => {
            let answer = customers::credit(found, text(args, "id"), &args["creditInput"]);
            // The credit is applied; the answer may be lost on the way back (a fault).
            if !answer["storeCreditAccountTransaction"].is_null() && world.faults.lose_credit_answers > 0 {
                world.faults.lose_credit_answers -= 1;
                world.answer_lost = true;
            }
            Ok(answer)
        }
        other => Err(format!("The fake Shopify does not implement {other} yet.")),
    }
}

fn text<'a>(args: &'a Map<String, Value>, name: &str) -> &'a str {
    args.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// `first`/`after` of a nested connection, put beside the root field's arguments by [`handle`].
fn nested_paging(args: &Map<String, Value>) -> (usize, usize) {
    let first = args.get("__first").and_then(Value::as_u64).unwrap_or(50) as usize;
    let after = args.get("__after").and_then(Value::as_str).and_then(|c| c.parse().ok()).unwrap_or(0);
    (first, after)
}

fn webhook_json(w: &WebhookSubscription) -> Value {
    json!({
        "__typename": "WebhookSubscription",
        "id": w.id, "topic": w.topic, "uri": w.uri, "callbackUrl": w.uri, "format": "JSON", "createdAt": w.created_at,
        "updatedAt": w.created_at, "apiVersion": { "handle": backend::shopify::API_VERSION },
    })
}
