//! Code discounts in the fake shop, as Shopify's Admin API answers them: basic code discounts made
//! and updated with their `userErrors` (a code must be unique in the shop, any case), codes added in
//! bulk (asynchronously: the first look at a bulk creation says it isn't done) and removed by a job,
//! and a code looked up.

use super::world::{BulkCreation, Discount, RedeemCode, Shop};
use serde_json::{json, Map, Value};

fn error(field: &[&str], code: &str, message: &str) -> Value {
    json!({ "field": field, "code": code, "message": message, "extraInfo": null })
}

const TAKEN: &str = "Code must be unique. Please try a different code.";

/// Shopify's checks on a code: present, at most 255 characters, no line breaks.
fn code_problem(code: &str, field: &[&str]) -> Option<Value> {
    if code.trim().is_empty() {
        return Some(error(field, "BLANK", "Code can't be blank"));
    }
    if code.chars().count() > 255 {
        return Some(error(field, "TOO_LONG", "Code is too long (maximum is 255 characters)"));
    }
    if code.contains(['\n', '\r']) {
        return Some(error(field, "INVALID", "Code cannot contain newline characters."));
    }
    None
}

/// The checks every basic discount input gets (made or updated).
fn input_problems(input: &Map<String, Value>, creating: bool) -> Vec<Value> {
    let mut errors = Vec::new();
    let at = |name: &str| input.get(name).filter(|v| !v.is_null());
    if creating && at("title").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty()) {
        errors.push(error(&["basicCodeDiscount", "title"], "BLANK", "Title can't be blank"));
    }
    if creating && at("startsAt").is_none() {
        errors.push(error(&["basicCodeDiscount", "startsAt"], "BLANK", "Starts at can't be blank"));
    }
    if let (Some(start), Some(end)) = (at("startsAt").and_then(Value::as_str), at("endsAt").and_then(Value::as_str)) {
        if end <= start {
            errors.push(error(
                &["basicCodeDiscount", "endsAt"],
                "END_DATE_BEFORE_START_DATE",
                "Ends at needs to be after starts_at",
            ));
        }
    }
    match at("customerGets") {
        None if creating => {
            errors.push(error(&["basicCodeDiscount", "customerGets"], "BLANK", "Customer gets can't be blank"))
        }
        None => {}
        Some(gets) => {
            let value = &gets["value"];
            if let Some(p) = value["percentage"].as_f64() {
                if !(0.0..=1.0).contains(&p) || p == 0.0 {
                    errors.push(error(
                        &["basicCodeDiscount", "customerGets", "value", "percentage"],
                        "VALUE_OUTSIDE_RANGE",
                        "Value must be between 0.0 and 1.0",
                    ));
                }
            } else if let Some(amount) = value["discountAmount"]["amount"].as_str() {
                if amount.parse::<f64>().map_or(true, |a| a <= 0.0) {
                    errors.push(error(
                        &["basicCodeDiscount", "customerGets", "value", "discountAmount", "amount"],
                        "GREATER_THAN",
                        "Value must be greater than 0",
                    ));
                }
            } else {
                errors.push(error(&["basicCodeDiscount", "customerGets", "value"], "BLANK", "Value can't be blank"));
            }
            if gets["items"].is_null() {
                errors.push(error(&["basicCodeDiscount", "customerGets", "items"], "BLANK", "Items can't be blank"));
            }
        }
    }
    errors
}

fn status_of(input: &Map<String, Value>) -> &'static str {
    let now =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    match input.get("endsAt").and_then(Value::as_str) {
        Some(end) if end <= now.as_str() => "EXPIRED",
        _ => "ACTIVE",
    }
}

/// The discount node as a query may select it; `codes` lists those given.
pub fn node_json(d: &Discount, codes: &[&RedeemCode]) -> Value {
    let nodes: Vec<Value> = codes.iter().map(|c| json!({ "id": c.id, "code": c.code, "asyncUsageCount": 0 })).collect();
    json!({
        "__typename": "DiscountCodeNode",
        "id": d.id,
        "codeDiscount": {
            "__typename": "DiscountCodeBasic",
            "title": d.title,
            "status": d.status,
            "asyncUsageCount": 0,
            "codesCount": { "count": d.codes.len(), "precision": "EXACT" },
            "codes": { "nodes": nodes, "pageInfo": { "hasNextPage": false, "endCursor": null } },
        },
    })
}

pub fn create(shop: &mut Shop, app: &str, input: &Value) -> Value {
    let Some(input) = input.as_object() else {
        return json!({ "codeDiscountNode": null, "userErrors": [error(&["basicCodeDiscount"], "BLANK", "Input can't be blank")] });
    };
    let code = input.get("code").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut errors = input_problems(input, true);
    if let Some(problem) = code_problem(&code, &["basicCodeDiscount", "code"]) {
        errors.push(problem);
    } else if shop.code_taken(&code) {
        errors.push(error(&["basicCodeDiscount", "code"], "TAKEN", TAKEN));
    }
    if !errors.is_empty() {
        return json!({ "codeDiscountNode": null, "userErrors": errors });
    }
    let id = shop.gid("DiscountCodeNode");
    let redeem = RedeemCode { id: shop.gid("DiscountRedeemCode"), code };
    let discount = Discount {
        id,
        title: input.get("title").and_then(Value::as_str).unwrap_or_default().to_owned(),
        status: status_of(input).to_owned(),
        input: Value::Object(input.clone()),
        codes: vec![redeem],
        app: Some(app.to_owned()),
    };
    let out = node_json(&discount, &discount.codes.iter().collect::<Vec<_>>());
    shop.discounts.push(discount);
    json!({ "codeDiscountNode": out, "userErrors": [] })
}

fn not_found(field: &str) -> Value {
    json!({ "codeDiscountNode": null, "userErrors": [error(&[field], "INVALID", "Discount does not exist")] })
}

pub fn update(shop: &mut Shop, id: &str, input: &Value) -> Value {
    let Some(input) = input.as_object() else { return not_found("basicCodeDiscount") };
    let errors = input_problems(input, false);
    let Some(discount) = shop.discounts.iter_mut().find(|d| d.id == id) else { return not_found("id") };
    if !errors.is_empty() {
        return json!({ "codeDiscountNode": null, "userErrors": errors });
    }
    if let Some(saved) = discount.input.as_object_mut() {
        for (k, v) in input {
            saved.insert(k.clone(), v.clone());
        }
    }
    if let Some(title) = input.get("title").and_then(Value::as_str) {
        discount.title = title.to_owned();
    }
    if discount.status != "EXPIRED" || input.contains_key("endsAt") {
        discount.status = discount.input.as_object().map_or("ACTIVE", status_of).to_owned();
    }
    json!({ "codeDiscountNode": node_json(discount, &[]), "userErrors": [] })
}

pub fn switch(shop: &mut Shop, id: &str, active: bool) -> Value {
    let Some(discount) = shop.discounts.iter_mut().find(|d| d.id == id) else { return not_found("id") };
    discount.status = if active { "ACTIVE" } else { "EXPIRED" }.to_owned();
    json!({ "codeDiscountNode": node_json(discount, &[]), "userErrors": [] })
}

pub fn bulk_add(shop: &mut Shop, discount_id: &str, codes: &Value) -> Value {
    let codes: Vec<String> = codes
        .as_array()
        .map(|list| list.iter().filter_map(|c| c["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if codes.len() > 250 {
        return json!({ "bulkCreation": null, "userErrors": [error(&["codes"], "TOO_MANY_ARGUMENTS", "Codes must be at most 250")] });
    }
    if !shop.discounts.iter().any(|d| d.id == discount_id) {
        return json!({ "bulkCreation": null, "userErrors": [error(&["discountId"], "INVALID", "Discount does not exist")] });
    }
    let mut results = Vec::new();
    for code in codes {
        let problem = code_problem(&code, &["code"]).or_else(|| {
            let again = results.iter().any(|(c, made, _): &(String, Option<RedeemCode>, Vec<Value>)| {
                made.is_some() && c.eq_ignore_ascii_case(&code)
            });
            (shop.code_taken(&code) || again).then(|| error(&["code"], "TAKEN", TAKEN))
        });
        match problem {
            Some(problem) => results.push((code, None, vec![problem])),
            None => {
                let redeem = RedeemCode { id: shop.gid("DiscountRedeemCode"), code: code.clone() };
                if let Some(d) = shop.discounts.iter_mut().find(|d| d.id == discount_id) {
                    d.codes.push(redeem.clone());
                }
                results.push((code, Some(redeem), Vec::new()));
            }
        }
    }
    let id = shop.gid("DiscountRedeemCodeBulkCreation");
    shop.bulk_creations.push(BulkCreation {
        id: id.clone(),
        discount_id: discount_id.to_owned(),
        codes: results,
        polled: false,
    });
    json!({ "bulkCreation": { "id": id, "done": false, "codesCount": 0, "importedCount": 0, "failedCount": 0 }, "userErrors": [] })
}

pub fn bulk_creation(shop: &mut Shop, id: &str, first: usize, after: usize) -> Value {
    let Some(creation) = shop.bulk_creations.iter_mut().find(|c| c.id == id) else { return Value::Null };
    let done = creation.polled;
    creation.polled = true;
    let failed = creation.codes.iter().filter(|(_, made, _)| made.is_none()).count();
    let page: Vec<Value> = if done {
        creation
            .codes
            .iter()
            .skip(after)
            .take(first)
            .map(|(code, made, errors)| {
                json!({
                    "code": code,
                    "errors": errors,
                    "discountRedeemCode": made.as_ref().map(|m| json!({ "id": m.id, "code": m.code, "asyncUsageCount": 0 })),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let end = after + page.len();
    json!({
        "id": creation.id,
        "done": done,
        "codesCount": creation.codes.len(),
        "importedCount": if done { creation.codes.len() - failed } else { 0 },
        "failedCount": if done { failed } else { 0 },
        "codes": {
            "nodes": page,
            "pageInfo": { "hasNextPage": done && end < creation.codes.len(), "endCursor": end.to_string() },
        },
    })
}

pub fn bulk_delete(shop: &mut Shop, discount_id: &str, ids: &Value) -> Value {
    let ids: Vec<&str> = ids.as_array().map(|l| l.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(discount) = shop.discounts.iter_mut().find(|d| d.id == discount_id) else {
        return json!({ "job": null, "userErrors": [error(&["discountId"], "INVALID", "Discount does not exist")] });
    };
    if ids.is_empty() {
        return json!({ "job": null, "userErrors": [error(&["ids"], "BLANK", "Ids can't be blank")] });
    }
    discount.codes.retain(|c| !ids.contains(&c.id.as_str()));
    let id = shop.gid("Job");
    shop.jobs.insert(id.clone(), false);
    json!({ "job": { "id": id, "done": false }, "userErrors": [] })
}

pub fn job(shop: &mut Shop, id: &str) -> Value {
    match shop.jobs.get_mut(id) {
        None => Value::Null,
        Some(seen) => {
            *seen = true;
            json!({ "id": id, "done": true })
        }
    }
}

pub fn by_code(shop: &Shop, code: &str) -> Value {
    for d in &shop.discounts {
        if let Some(found) = d.codes.iter().find(|c| c.code.eq_ignore_ascii_case(code)) {
            return node_json(d, &[found]);
        }
    }
    Value::Null
}
