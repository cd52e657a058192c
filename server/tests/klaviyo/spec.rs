//! Klaviyo's official OpenAPI document (read from `../shared/klaviyo/openapi-stable.json`, never
//! copied), as a validator for the requests the client builds and the answers the fake gives.
//! OpenAPI 3.0's `nullable` is rewritten into JSON Schema before compiling.

use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

pub struct Spec {
    doc: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::env::var("KLAVIYO_OPENAPI_SPEC").map(PathBuf::from).unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/klaviyo/openapi-stable.json")
        });
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the Klaviyo spec must be at {}: {e}", path.display()));
        let mut doc: Value = serde_json::from_str(&text).expect("the spec is JSON");
        assert_eq!(doc["info"]["version"], "2026-07-15", "the spec revision Rekomi pins");
        if let Some(components) = doc.get_mut("components") {
            rewrite_nullable(components);
        }
        Spec { doc, validators: Mutex::new(HashMap::new()) }
    })
}

/// `nullable: true` → also accept null (beside `type`, or around a `$ref`/`allOf`).
fn rewrite_nullable(node: &mut Value) {
    match node {
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        Value::Object(map) => {
            for value in map.values_mut() {
                rewrite_nullable(value);
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = map.get_mut("enum") {
                        values.push(Value::Null);
                    }
                } else {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                }
            }
        }
        _ => {}
    }
}

fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(node),
        None => node,
    }
}

impl Spec {
    /// The spec path template and operation object for a concrete request.
    pub fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        // Prefer literal matches over templated ones (e.g. /api/profile-import vs /api/profiles/{id}).
        let mut candidates: Vec<(&String, &Value)> = paths
            .iter()
            .filter(|(template, _)| {
                let t: Vec<&str> = template.split('/').collect();
                t.len() == segments.len() && t.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
            })
            .collect();
        candidates.sort_by_key(|(t, _)| t.matches('{').count());
        let (template, item) = candidates.into_iter().next()?;
        let op = item.get(method.to_lowercase())?;
        Some((template.clone(), op))
    }

    fn validator(&self, schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
        let key = schema.to_string();
        let mut cache = self.validators.lock().expect("validator cache");
        if let Some(v) = cache.get(&key) {
            return v.clone();
        }
        let mut root = Map::new();
        for (k, v) in schema.as_object().cloned().unwrap_or_default() {
            root.insert(k, v);
        }
        root.insert("components".into(), self.doc["components"].clone());
        let compiled = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("schema compiles: {e}"));
        let compiled = std::sync::Arc::new(compiled);
        cache.insert(key, compiled.clone());
        compiled
    }

    fn check(&self, what: &str, schema: &Value, instance: &Value, problems: &mut Vec<String>) {
        let schema = if schema.get("nullable") == Some(&Value::Bool(true)) {
            let mut copy = schema.clone();
            rewrite_nullable(&mut copy);
            copy
        } else {
            schema.clone()
        };
        for error in self.validator(&schema).iter_errors(instance) {
            problems.push(format!("{what}: {error} at {}", error.instance_path()));
        }
    }

    /// Every way a request breaks the spec: unknown operation, unknown or ill-typed query
    /// parameters, missing required headers or parameters, a body that fails the schema.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &HashMap<String, String>,
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let Some((template, op)) = self.operation(method, path) else {
            return vec![format!("{method} {path} is not an operation in the spec")];
        };
        let label = format!("{method} {template}");
        let params: Vec<&Value> =
            op["parameters"].as_array().map(|a| a.iter().map(|p| resolve(&self.doc, p)).collect()).unwrap_or_default();
        let given: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (name, value) in &given {
            let Some(param) = params.iter().find(|p| p["name"] == *name && p["in"] == "query") else {
                problems.push(format!("{label}: query parameter {name} is not in the spec"));
                continue;
            };
            let schema = &param["schema"];
            let instance = match schema["type"].as_str() {
                Some("array") => Value::Array(value.split(',').map(|v| json!(v)).collect()),
                Some("integer") => match value.parse::<i64>() {
                    Ok(n) => json!(n),
                    Err(_) => {
                        problems.push(format!("{label}: {name}={value} is not an integer"));
                        continue;
                    }
                },
                _ => json!(value),
            };
            self.check(&format!("{label} query {name}"), schema, &instance, &mut problems);
        }
        for param in &params {
            if param["required"] != true {
                continue;
            }
            let name = param["name"].as_str().unwrap_or("");
            let present = match param["in"].as_str() {
                Some("query") => given.iter().any(|(k, _)| k == name),
                Some("header") => headers.contains_key(&name.to_lowercase()),
                _ => true,
            };
            if !present {
                problems.push(format!("{label}: required parameter {name} is missing"));
            }
        }
        match headers.get("revision") {
            Some(r) if r == "2026-07-15" => {}
            other => problems.push(format!("{label}: revision header is {other:?}, not 2026-07-15")),
        }
        if !headers.get("authorization").is_some_and(|a| a.starts_with("Klaviyo-API-Key pk_")) {
            problems.push(format!("{label}: no Klaviyo-API-Key authorization"));
        }
        let request_body = op.get("requestBody").map(|b| resolve(&self.doc, b));
        match (request_body, body) {
            (Some(rb), Some(body)) => {
                let content_type = headers.get("content-type").map(String::as_str).unwrap_or("");
                match rb["content"].get(content_type) {
                    Some(media) => self.check(&format!("{label} body"), &media["schema"], body, &mut problems),
                    None => problems.push(format!("{label}: content type {content_type:?} is not declared")),
                }
            }
            (Some(rb), None) if rb["required"] == true => problems.push(format!("{label}: the body is missing")),
            (None, Some(_)) => problems.push(format!("{label}: sends a body the operation does not take")),
            _ => {}
        }
        problems
    }

    /// Every way an answer breaks the spec for its status.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: Option<&Value>) -> Vec<String> {
        let Some((template, op)) = self.operation(method, path) else {
            return vec![format!("{method} {path} is not an operation in the spec")];
        };
        let label = format!("{method} {template} -> {status}");
        let responses = &op["responses"];
        let class = format!("{}XX", status / 100);
        let Some(response) = responses.get(status.to_string()).or_else(|| responses.get(&class)) else {
            return vec![format!("{label}: status not declared")];
        };
        let response = resolve(&self.doc, response);
        let mut problems = Vec::new();
        match (response.get("content"), body) {
            (Some(content), Some(body)) => match content.get("application/vnd.api+json") {
                Some(media) => self.check(&label, &media["schema"], body, &mut problems),
                None => problems.push(format!("{label}: no JSON:API content declared")),
            },
            (Some(_), None) => problems.push(format!("{label}: declared a body, got none")),
            (None, Some(_)) => problems.push(format!("{label}: declared no body, got one")),
            (None, None) => {}
        }
        problems
    }
}
