//! The OpenAPI 3 document, generated from the handlers' annotations, and a readable page of it.

use crate::services::rest;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rekomi API",
        version = "1",
        description = "Rekomi's API for your own systems and Klaviyo flows. Authenticate with `Authorization: Bearer <token>` (create tokens under Tracking). Errors are `{\"error\": {\"code\", \"message\"}}`. Send an `Idempotency-Key` header (or an `idempotency_key` body field, for callers whose headers are static) to make a POST run once: a retry gets the first answer, the same key with another body is a 422. Each token may make a limited number of requests a minute; over it, 429 with Retry-After."
    ),
    paths(
        super::people::rate_bump,
        super::people::invite,
        super::people::status,
        super::people::affiliates,
        super::people::commissions,
        super::people::payouts,
        super::orders::conversions,
        super::orders::refunds,
    ),
    components(schemas(rest::ErrorBody, rest::ErrorDetail, rest::Decimal)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "affiliates", description = "Rate bumps, invites and affiliate status: what Klaviyo flows call"),
        (name = "earnings", description = "Commissions and payouts"),
        (name = "orders", description = "Orders and refunds from a store that isn't Shopify"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}

pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A server-rendered reference: every operation with its parameters, body fields and answers,
/// read from the same document (no script, nothing fetched from elsewhere).
pub async fn page() -> Html<String> {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    Html(PAGE.get_or_init(render).clone())
}

fn render() -> String {
    let doc: serde_json::Value = serde_json::from_str(document()).unwrap_or_default();
    let schemas = &doc["components"]["schemas"];
    let css = app::assets::stylesheet();
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Rekomi API</title><link rel=\"stylesheet\" href=\"{css}\"></head><body><main class=\"page docs\">",
    );
    html.push_str(&format!(
        "<h1>Rekomi API</h1><p>{}</p><p>The OpenAPI 3 document: <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a>.</p>",
        escape(doc["info"]["description"].as_str().unwrap_or_default())
    ));
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            let Some(ops) = ops.as_object() else { continue };
            for (method, op) in ops {
                html.push_str(&format!(
                    "<section class=\"card\"><h2><code>{} {}</code></h2><p>{}</p>",
                    method.to_uppercase(),
                    escape(path),
                    escape(op["summary"].as_str().or(op["description"].as_str()).unwrap_or_default())
                ));
                if let Some(params) = op["parameters"].as_array() {
                    html.push_str("<h3>Parameters</h3><ul>");
                    for p in params {
                        html.push_str(&format!(
                            "<li><code>{}</code> ({}{}): {}</li>",
                            escape(p["name"].as_str().unwrap_or_default()),
                            escape(p["in"].as_str().unwrap_or_default()),
                            if p["required"].as_bool().unwrap_or(false) { ", required" } else { "" },
                            escape(p["description"].as_str().unwrap_or_default())
                        ));
                    }
                    html.push_str("</ul>");
                }
                let body = &op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
                if let Some(name) = body.as_str().and_then(|r| r.rsplit('/').next()) {
                    html.push_str("<h3>Body (JSON)</h3><ul>");
                    let schema = &schemas[name];
                    let required: Vec<&str> = schema["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    if let Some(props) = schema["properties"].as_object() {
                        for (field, spec) in props {
                            html.push_str(&format!(
                                "<li><code>{}</code>{}: {}</li>",
                                escape(field),
                                if required.contains(&field.as_str()) { " (required)" } else { "" },
                                escape(spec["description"].as_str().unwrap_or_default())
                            ));
                        }
                    }
                    html.push_str("</ul>");
                }
                if let Some(responses) = op["responses"].as_object() {
                    html.push_str("<h3>Answers</h3><ul>");
                    for (status, r) in responses {
                        html.push_str(&format!(
                            "<li><code>{}</code> {}</li>",
                            escape(status),
                            escape(r["description"].as_str().unwrap_or_default())
                        ));
                    }
                    html.push_str("</ul>");
                }
                html.push_str("</section>");
            }
        }
    }
    html.push_str("</main></body></html>");
    html
}
