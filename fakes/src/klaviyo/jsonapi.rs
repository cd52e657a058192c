//! The fake's answers in Klaviyo's shape: JSON:API error bodies, query parsing, filter grammar.

// A refusal is built once per failed request of a test fake; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const JSON_API: &str = "application/vnd.api+json";

/// A refusal in Klaviyo's error format.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: String,
    pub detail: String,
    pub pointer: Option<String>,
    pub parameter: Option<String>,
    pub meta: Option<Value>,
    pub retry_after: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            title: title.into(),
            detail: detail.into(),
            pointer: None,
            parameter: None,
            meta: None,
            retry_after: None,
        }
    }

    pub fn not_authenticated() -> Self {
        let mut r = Self::new(
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
            "Authentication credentials were not provided.",
            "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
        );
        r.pointer = Some("/data/".into());
        r
    }

    pub fn authentication_failed() -> Self {
        let mut r = Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_failed",
            "Incorrect authentication credentials.",
            "Incorrect authentication credentials.",
        );
        r.pointer = Some("/data/".into());
        r
    }

    pub fn permission_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "You do not have permission to perform this action.",
            "You do not have permission to perform this action.",
        )
    }

    pub fn invalid(detail: impl Into<String>, pointer: impl Into<String>) -> Self {
        let mut r = Self::new(StatusCode::BAD_REQUEST, "invalid", "Invalid input.", detail);
        r.pointer = Some(pointer.into());
        r
    }

    pub fn invalid_parameter(detail: impl Into<String>, parameter: &str) -> Self {
        let mut r = Self::new(StatusCode::BAD_REQUEST, "invalid", "Invalid input.", detail);
        r.parameter = Some(parameter.into());
        r
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found.", detail)
    }

    pub fn duplicate_profile(id: &str) -> Self {
        let mut r = Self::new(
            StatusCode::CONFLICT,
            "duplicate_profile",
            "Conflict.",
            "A profile already exists with one of these identifiers.",
        );
        r.pointer = Some("/data/attributes".into());
        r.meta = Some(json!({ "duplicate_profile_id": id }));
        r
    }

    pub fn throttled(retry_after: u64) -> Self {
        let mut r = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "Request was throttled.",
            format!("Request was throttled. Expected available in {retry_after} second{}.", plural(retry_after)),
        );
        r.retry_after = Some(retry_after);
        r
    }

    pub fn server_error(status: StatusCode) -> Self {
        Self::new(status, "error", "A server error occurred.", "A server error occurred.")
    }

    pub fn body(&self) -> Value {
        let mut error = json!({
            "id": random_id(36),
            "status": self.status.as_u16(),
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "links": {},
        });
        let mut source = serde_json::Map::new();
        if let Some(p) = &self.pointer {
            source.insert("pointer".into(), json!(p));
        }
        if let Some(p) = &self.parameter {
            source.insert("parameter".into(), json!(p));
        }
        if !source.is_empty() {
            error["source"] = Value::Object(source);
        }
        if let Some(meta) = &self.meta {
            error["meta"] = meta.clone();
        }
        json!({ "errors": [error] })
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body());
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static(JSON_API));
    response
}

pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// Letters and digits, for ids Klaviyo makes.
pub fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// Query parameters, decoded; a repeated parameter is refused like Klaviyo does.
pub fn parse_query(raw: Option<&str>) -> Result<BTreeMap<String, String>, Refusal> {
    let mut out = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Refusal::invalid_parameter(format!("'{k}' was given more than once."), &k));
        }
    }
    Ok(out)
}

/// Checks that only `allowed` parameters are present.
pub fn only(query: &BTreeMap<String, String>, allowed: &[&str]) -> Result<(), Refusal> {
    match query.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Refusal::invalid_parameter(format!("'{k}' is not a valid query parameter."), k)),
        None => Ok(()),
    }
}

/// `page[size]`: an integer within `1..=max`, or `default`.
pub fn page_size(query: &BTreeMap<String, String>, default: usize, max: usize) -> Result<usize, Refusal> {
    match query.get("page[size]") {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Refusal::invalid_parameter(
                format!("Invalid page size '{raw}'. Page size must be between 1 and {max}."),
                "page[size]",
            )),
        },
    }
}

/// A sparse-fieldset parameter whose values must come from `allowed`.
pub fn check_fields(query: &BTreeMap<String, String>, name: &str, allowed: &[&str]) -> Result<(), Refusal> {
    if let Some(raw) = query.get(name) {
        for field in raw.split(',') {
            if !allowed.contains(&field) {
                return Err(Refusal::invalid_parameter(format!("'{field}' is not a valid field for {name}."), name));
            }
        }
    }
    Ok(())
}

/// The opaque cursor for "start at item `offset`".
pub fn encode_cursor(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("bookmark:{offset}"))
}

pub fn decode_cursor(query: &BTreeMap<String, String>) -> Result<usize, Refusal> {
    use base64::Engine;
    let Some(raw) = query.get("page[cursor]") else { return Ok(0) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("bookmark:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| Refusal::invalid_parameter("Invalid page cursor.", "page[cursor]"))
}

/// One filter term: `equals(field,value)` or `any(field,[values])`, possibly inside `and(…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub op: String,
    pub field: String,
    pub values: Vec<String>,
}

/// Parses Klaviyo's filter grammar for the operators the fake serves.
pub fn parse_filter(raw: &str) -> Result<Vec<Term>, Refusal> {
    let bad = || Refusal::invalid_parameter(format!("Invalid filter provided: '{raw}'"), "filter");
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix("and(").and_then(|r| r.strip_suffix(')')) {
        return split_top_level(inner).iter().map(|t| parse_term(t).ok_or_else(bad)).collect();
    }
    Ok(vec![parse_term(raw).ok_or_else(bad)?])
}

fn parse_term(raw: &str) -> Option<Term> {
    let open = raw.find('(')?;
    let op = raw[..open].trim();
    let inner = raw[open + 1..].strip_suffix(')')?;
    let comma = inner.find(',')?;
    let field = inner[..comma].trim();
    let value = inner[comma + 1..].trim();
    let values = if let Some(list) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        split_top_level(list).iter().map(|v| unquote(v)).collect::<Option<Vec<_>>>()?
    } else {
        vec![unquote(value).unwrap_or_else(|| value.to_owned())]
    };
    Some(Term { op: op.into(), field: field.into(), values })
}

fn unquote(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let quote = raw.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = raw.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut escaped = false;
    for c in body.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Splits on commas outside quotes, brackets and parentheses.
fn split_top_level(raw: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0_i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut current = String::new();
    for c in raw.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts.into_iter().map(|p| p.trim().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_filters_klaviyo_documents() {
        assert_eq!(
            parse_filter(r#"any(email,["a@b.com","x\"y@c.com"])"#).expect("parses"),
            vec![Term { op: "any".into(), field: "email".into(), values: vec!["a@b.com".into(), "x\"y@c.com".into()] }]
        );
        assert_eq!(parse_filter("equals(name,['Spring'])").expect("parses")[0].values, vec!["Spring".to_owned()]);
        assert_eq!(parse_filter(r#"and(equals(email,"a@b.com"),equals(name,"x"))"#).expect("parses").len(), 2);
        assert!(parse_filter("nonsense").is_err());
    }
}
