//! Customers and their store credit in the fake shop: found by email, made (an email is unique),
//! credited in the shop's currency with Shopify's `userErrors`, and their accounts' transactions
//! read back. A fault can apply a credit and lose the answer, as a dropped connection would.

use super::world::Shop;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub tags: Vec<String>,
    pub credits: Vec<Credit>,
}

#[derive(Debug, Clone)]
pub struct Credit {
    pub id: String,
    pub amount: String,
    pub currency: String,
    pub created_at: String,
}

fn error(field: &[&str], code: Option<&str>, message: &str) -> Value {
    json!({ "field": field, "code": code, "message": message })
}

fn customer_json(shop: &Shop, c: &Customer) -> Value {
    let balance: f64 = c.credits.iter().filter_map(|t| t.amount.parse::<f64>().ok()).sum();
    let account_id = format!("gid://shopify/StoreCreditAccount/{}", c.id.rsplit('/').next().unwrap_or_default());
    let transactions: Vec<Value> = c
        .credits
        .iter()
        .rev()
        .map(|t| {
            json!({
                "__typename": "StoreCreditAccountCreditTransaction",
                "id": t.id,
                "amount": { "amount": t.amount, "currencyCode": t.currency },
                "createdAt": t.created_at,
            })
        })
        .collect();
    let accounts = if c.credits.is_empty() {
        Vec::new()
    } else {
        vec![json!({
            "id": account_id,
            "balance": { "amount": format!("{balance:.2}"), "currencyCode": shop.currency },
            "transactions": { "nodes": transactions, "pageInfo": { "hasNextPage": false, "endCursor": null } },
        })]
    };
    json!({
        "__typename": "Customer",
        "id": c.id,
        "email": c.email,
        "firstName": c.first_name,
        "lastName": c.last_name,
        "tags": c.tags,
        "defaultEmailAddress": { "emailAddress": c.email },
        "storeCreditAccounts": { "nodes": accounts, "pageInfo": { "hasNextPage": false, "endCursor": null } },
    })
}

pub fn by_identifier(shop: &Shop, identifier: &Value) -> Value {
    let email = identifier["emailAddress"].as_str().unwrap_or_default();
    let id = identifier["id"].as_str().unwrap_or_default();
    shop.customers
        .iter()
        .find(|c| (!email.is_empty() && c.email.eq_ignore_ascii_case(email)) || (!id.is_empty() && c.id == id))
        .map_or(Value::Null, |c| customer_json(shop, c))
}

pub fn by_id(shop: &Shop, id: &str) -> Value {
    shop.customers.iter().find(|c| c.id == id).map_or(Value::Null, |c| customer_json(shop, c))
}

pub fn create(shop: &mut Shop, input: &Value) -> Value {
    let email = input["email"].as_str().unwrap_or_default().trim().to_owned();
    if email.is_empty() {
        return json!({ "customer": null, "userErrors": [error(&["email"], None, "A name, phone number, or email address must be present")] });
    }
    if !email.contains('@') {
        return json!({ "customer": null, "userErrors": [error(&["email"], None, "Email is invalid")] });
    }
    if shop.customers.iter().any(|c| c.email.eq_ignore_ascii_case(&email)) {
        return json!({ "customer": null, "userErrors": [error(&["email"], None, "Email has already been taken")] });
    }
    let customer = Customer {
        id: shop.gid("Customer"),
        email,
        first_name: input["firstName"].as_str().map(str::to_owned),
        last_name: input["lastName"].as_str().map(str::to_owned),
        tags: input["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        credits: Vec::new(),
    };
    let out = customer_json(shop, &customer);
    shop.customers.push(customer);
    json!({ "customer": out, "userErrors": [] })
}

/// `storeCreditAccountCredit` on a customer id (an account is made for the currency if needed).
pub fn credit(shop: &mut Shop, id: &str, input: &Value) -> Value {
    let refused = |code: &str, message: &str| json!({ "storeCreditAccountTransaction": null, "userErrors": [error(&["creditInput", "creditAmount"], Some(code), message)] });
    let amount = input["creditAmount"]["amount"].as_str().unwrap_or_default().to_owned();
    let currency = input["creditAmount"]["currencyCode"].as_str().unwrap_or_default().to_owned();
    if amount.parse::<f64>().map_or(true, |a| a <= 0.0) {
        return refused("NEGATIVE_OR_ZERO_AMOUNT", "The amount must be greater than zero.");
    }
    if currency != shop.currency {
        return refused("UNSUPPORTED_CURRENCY", "The currency provided is not supported.");
    }
    let credit_id = shop.gid("StoreCreditAccountCreditTransaction");
    let shop_currency = shop.currency.clone();
    let Some(customer) = shop.customers.iter_mut().find(|c| c.id == id) else {
        return json!({ "storeCreditAccountTransaction": null, "userErrors": [error(&["id"], Some("OWNER_NOT_FOUND"), "Owner does not exist.")] });
    };
    let created_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    customer.credits.push(Credit {
        id: credit_id.clone(),
        amount: amount.clone(),
        currency: currency.clone(),
        created_at: created_at.clone(),
    });
    let balance: f64 = customer.credits.iter().filter_map(|t| t.amount.parse::<f64>().ok()).sum();
    json!({
        "storeCreditAccountTransaction": {
            "__typename": "StoreCreditAccountCreditTransaction",
            "id": credit_id,
            "amount": { "amount": amount, "currencyCode": currency },
            "balanceAfterTransaction": { "amount": format!("{balance:.2}"), "currencyCode": shop_currency },
            "createdAt": created_at,
            "account": { "id": format!("gid://shopify/StoreCreditAccount/{}", id.rsplit('/').next().unwrap_or_default()) },
        },
        "userErrors": [],
    })
}

/// For the control API: each customer's email and credits.
pub fn summary(shop: &Shop) -> Vec<Value> {
    shop.customers
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "email": c.email, "tags": c.tags,
                "credits": c.credits.iter().map(|t| json!({ "id": t.id, "amount": t.amount, "currency": t.currency })).collect::<Vec<_>>(),
            })
        })
        .collect()
}
