//! The merchant's Shopify webhook signing secret: sealed at rest, kept in memory briefly so that a
//! burst of webhooks doesn't decrypt it on every request, and used to verify each delivery.

use crate::secrets::Sealer;
use crate::store::{tracking, Db};
use anyhow::Context;
use base64::Engine;
use hmac::{Hmac, Mac};
use moka::sync::Cache;
use sha2::Sha256;
use shared::domain::MerchantId;
use std::sync::Arc;
use std::time::Duration;

type Found = Option<(MerchantId, Option<Arc<String>>)>;

#[derive(Clone)]
pub struct ShopifySecrets {
    db: Db,
    sealer: Sealer,
    cache: Cache<String, Found>,
}

fn owner(merchant: MerchantId) -> String {
    format!("shopify-secret:{merchant}")
}

impl ShopifySecrets {
    pub fn new(db: Db, sealer: Sealer) -> Self {
        Self { db, sealer, cache: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(30)).build() }
    }

    /// The merchant behind a webhook address and its secret (`None` when none is set).
    pub async fn for_slug(&self, slug: &str) -> anyhow::Result<Found> {
        if let Some(found) = self.cache.get(slug) {
            return Ok(found);
        }
        let row = tracking::shopify_secret(&self.db, slug).await.context("reading the Shopify secret")?;
        let found = match row {
            None => None,
            Some((merchant, sealed)) => {
                let secret = match sealed {
                    Some(sealed) => Some(Arc::new(
                        self.sealer.open(&sealed, &owner(merchant)).context("opening the Shopify secret")?,
                    )),
                    None => None,
                };
                Some((merchant, secret))
            }
        };
        self.cache.insert(slug.to_owned(), found.clone());
        Ok(found)
    }

    pub async fn set(&self, merchant: MerchantId, slug: &str, secret: Option<&str>) -> anyhow::Result<()> {
        let sealed = secret.map(|s| self.sealer.seal(s, &owner(merchant))).transpose()?;
        tracking::set_shopify_secret(&self.db, merchant, sealed.as_deref())
            .await
            .context("saving the Shopify secret")?;
        self.cache.invalidate(slug);
        Ok(())
    }
}

/// Shopify's `X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the raw body, compared in
/// constant time.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else { return false };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The signature Shopify would send (tests, the load script).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_the_same_body_and_secret() {
        let signature = sign("s3cret", b"{\"id\":1}");
        assert!(verify("s3cret", b"{\"id\":1}", &signature));
        assert!(!verify("s3cret", b"{\"id\":2}", &signature));
        assert!(!verify("other", b"{\"id\":1}", &signature));
        assert!(!verify("s3cret", b"{\"id\":1}", "not base64!"));
        assert!(!verify("s3cret", b"{\"id\":1}", ""));
    }
}
