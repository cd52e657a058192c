//! The HTTP side: a token by the client-credentials grant, and GraphQL calls with Shopify's
//! answers (HTTP status, `errors[].extensions.code`, `userErrors`) turned into [`ShopifyError`].

use super::documents::Document;
use super::{ShopDomain, API_VERSION};
use anyhow::Context;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HOST};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use url::Url;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `None`: each shop at `https://{shop}`. A fake's address otherwise; the shop is then named
    /// by the `Host` header, as on Shopify's own servers.
    base: Option<Url>,
}

/// An access token and what Shopify granted with it.
#[derive(Clone, Deserialize)]
pub struct Token {
    pub access_token: String,
    /// The granted scopes, comma-separated.
    #[serde(default)]
    pub scope: String,
    /// Seconds it lives (client-credentials tokens: a day); `None` for an offline OAuth token.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("scope", &self.scope).field("expires_in", &self.expires_in).finish()
    }
}

/// What went wrong, in terms a merchant or the retry logic can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShopifyError {
    #[error("no Shopify store answers at this address")]
    UnknownShop,
    #[error("Shopify refused the client ID or secret")]
    BadCredentials,
    #[error("the app is not installed on this store")]
    NotInstalled,
    #[error("Shopify no longer accepts the access token")]
    Unauthorized,
    #[error("the store is frozen, paused or closed ({0})")]
    Unavailable(u16),
    #[error("the app lacks the access scopes {0:?}")]
    MissingScopes(Vec<String>),
    #[error("throttled by Shopify")]
    Throttled { retry_after_ms: u64 },
    #[error("Shopify refused the request: {0}")]
    Invalid(String),
    #[error("Shopify answered {status}: {detail}")]
    Upstream { status: u16, detail: String },
    #[error("Shopify could not be reached: {0}")]
    Transport(String),
    #[error("Shopify's answer could not be read: {0}")]
    Decode(String),
}

impl ShopifyError {
    /// Worth trying again later, unchanged.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Upstream { .. } | Self::Transport(_))
    }
}

/// `userErrors` of a mutation, as Shopify returns them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UserError {
    #[serde(default)]
    pub field: Option<Vec<String>>,
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
}

impl Client {
    pub fn new(base: Option<&str>) -> anyhow::Result<Self> {
        let base = base
            .map(|b| Url::parse(b.trim_end_matches('/')).with_context(|| format!("{b:?} is not a URL")))
            .transpose()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // The token must never follow a redirect to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Rekomi/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the Shopify HTTP client")?;
        Ok(Self { http, base })
    }

    fn request(&self, shop: &ShopDomain, path: &str) -> Result<reqwest::RequestBuilder, ShopifyError> {
        let request = match &self.base {
            None => self.http.post(format!("https://{shop}{path}")),
            Some(base) => {
                self.http.post(format!("{}{path}", base.as_str().trim_end_matches('/'))).header(HOST, shop.as_str())
            }
        };
        Ok(request.header(ACCEPT, "application/json"))
    }

    /// A token for a Dev Dashboard app installed on the merchant's own store.
    pub async fn client_credentials(
        &self,
        shop: &ShopDomain,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Token, ShopifyError> {
        let form = [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", client_secret)];
        let response = self
            .request(shop, "/admin/oauth/access_token")?
            .form(&form)
            .send()
            .await
            .map_err(|e| ShopifyError::Transport(transport_detail(&e)))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| ShopifyError::Transport(transport_detail(&e)))?;
        if status == 200 {
            return serde_json::from_slice(&body).map_err(|e| ShopifyError::Decode(e.to_string()));
        }
        let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let code = error["error"].as_str().unwrap_or_default();
        Err(match (status, code) {
            (_, "invalid_client" | "invalid_request" | "unauthorized_client") => ShopifyError::BadCredentials,
            (_, "shop_not_permitted" | "app_not_installed") => ShopifyError::NotInstalled,
            (404, _) => ShopifyError::UnknownShop,
            (401, _) => ShopifyError::BadCredentials,
            (402 | 403 | 423, _) => ShopifyError::Unavailable(status),
            _ => ShopifyError::Upstream { status, detail: String::from_utf8_lossy(&body).chars().take(300).collect() },
        })
    }

    /// Runs `document` with `variables` and decodes its `data`. GraphQL errors become
    /// [`ShopifyError`]s (a missing scope, throttling, an invalid document).
    pub async fn graphql<T: DeserializeOwned>(
        &self,
        shop: &ShopDomain,
        token: &str,
        document: Document,
        variables: Value,
    ) -> Result<T, ShopifyError> {
        let body = json!({ "query": document.text, "operationName": document.name, "variables": variables });
        let response = self
            .request(shop, &format!("/admin/api/{API_VERSION}/graphql.json"))?
            .header("X-Shopify-Access-Token", token)
            .header(CONTENT_TYPE, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| ShopifyError::Transport(transport_detail(&e)))?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<f64>().ok());
        let bytes = response.bytes().await.map_err(|e| ShopifyError::Transport(transport_detail(&e)))?;
        match status {
            200 => {}
            401 => return Err(ShopifyError::Unauthorized),
            402 | 403 | 423 => return Err(ShopifyError::Unavailable(status)),
            404 => return Err(ShopifyError::UnknownShop),
            429 => {
                let ms = retry_after.map_or(1_000, |s| (s * 1000.0) as u64);
                return Err(ShopifyError::Throttled { retry_after_ms: ms });
            }
            _ => {
                let detail = String::from_utf8_lossy(&bytes).chars().take(300).collect();
                return Err(ShopifyError::Upstream { status, detail });
            }
        }
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| ShopifyError::Decode(e.to_string()))?;
        if let Some(errors) = answer["errors"].as_array().filter(|e| !e.is_empty()) {
            return Err(graphql_error(errors, &answer["extensions"]));
        }
        serde_json::from_value(answer["data"].clone())
            .map_err(|e| ShopifyError::Decode(format!("{}: {e}", document.name)))
    }
}

/// The first error that decides what to do: throttled (wait as the cost bucket says), access
/// denied (name the scopes), or anything else (our document is wrong: a bug to fix).
fn graphql_error(errors: &[Value], extensions: &Value) -> ShopifyError {
    let code = |e: &Value| e["extensions"]["code"].as_str().unwrap_or_default().to_owned();
    if errors.iter().any(|e| code(e) == "THROTTLED") {
        let cost = &extensions["cost"];
        let requested = cost["requestedQueryCost"].as_f64().unwrap_or(1.0);
        let status = &cost["throttleStatus"];
        let available = status["currentlyAvailable"].as_f64().unwrap_or(0.0);
        let rate = status["restoreRate"].as_f64().filter(|r| *r > 0.0).unwrap_or(50.0);
        let wait = ((requested - available).max(1.0) / rate * 1000.0).ceil() as u64;
        return ShopifyError::Throttled { retry_after_ms: wait };
    }
    if let Some(denied) = errors.iter().find(|e| code(e) == "ACCESS_DENIED") {
        let scopes = denied["extensions"]["requiredAccess"]
            .as_str()
            .map(|text| text.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec![denied["message"].as_str().unwrap_or("a scope").to_owned()]);
        return ShopifyError::MissingScopes(scopes);
    }
    let messages: Vec<&str> = errors.iter().filter_map(|e| e["message"].as_str()).collect();
    ShopifyError::Invalid(messages.join("; "))
}

fn transport_detail(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed".to_owned()
    }
}
