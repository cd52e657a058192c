//! Shopify's Admin API as Rekomi uses it, pinned to one version: the client-credentials token of a
//! Dev Dashboard app, and GraphQL documents kept in one table ([`documents`]) so a test can check
//! every one of them against Shopify's own schema file.

pub mod client;
pub mod documents;

pub use client::{Client, ShopifyError, Token};

/// The Admin API version every call names.
pub const API_VERSION: &str = "2026-10";

/// The access scopes Rekomi asks for, by Shopify's names, and what each is for. A `write_` scope
/// includes its `read_`.
pub const REQUIRED_SCOPES: [(&str, &str); 6] = [
    ("read_orders", "orders and refunds: commissions and their clawbacks"),
    ("read_products", "the products on an order's lines, for per-product commissions"),
    ("write_discounts", "a discount code for each affiliate"),
    ("write_customers", "finding or creating an affiliate's customer account for store credit"),
    ("write_store_credit_account_transactions", "store-credit payouts"),
    ("read_store_credit_accounts", "reading a store credit back, so a payout is never credited twice"),
];

/// The scopes of `required` that `granted` (Shopify's comma-separated `scope`) does not cover.
pub fn missing_scopes(granted: &str) -> Vec<&'static str> {
    let granted: Vec<&str> = granted.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let has = |scope: &str| {
        granted.contains(&scope)
            || scope.strip_prefix("read_").is_some_and(|rest| granted.contains(&format!("write_{rest}").as_str()))
    };
    REQUIRED_SCOPES.iter().map(|(scope, _)| *scope).filter(|scope| !has(scope)).collect()
}

/// A store's permanent address, `name.myshopify.com`, from what a merchant pastes: the bare name,
/// the domain, or an admin or shop URL on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShopDomain(String);

impl ShopDomain {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().to_ascii_lowercase();
        let without_scheme = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://")).unwrap_or(&raw);
        let host = without_scheme.split(['/', '?', '#']).next().unwrap_or_default();
        // admin.shopify.com/store/{name} is the address bar of today's admin.
        let name = if host == "admin.shopify.com" {
            without_scheme.split('/').nth(2).unwrap_or_default()
        } else {
            host.strip_suffix(".myshopify.com").unwrap_or(host)
        };
        let valid = !name.is_empty()
            && name.len() <= 60
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid {
            return Err(if host.contains('.') && !host.ends_with(".myshopify.com") {
                format!(
                    "\u{201c}{host}\u{201d} is not a myshopify.com address. Use the store's permanent address, \
                     e.g. your-store.myshopify.com (Shopify admin → Settings → Domains)."
                )
            } else {
                "Enter the store's address, e.g. your-store.myshopify.com.".to_owned()
            });
        }
        Ok(Self(format!("{name}.myshopify.com")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store's handle, the part before `.myshopify.com`.
    pub fn handle(&self) -> &str {
        self.0.trim_end_matches(".myshopify.com")
    }
}

impl std::fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shop_is_found_in_whatever_the_merchant_pastes() {
        for raw in [
            "demo-outdoor",
            "Demo-Outdoor.myshopify.com",
            "https://demo-outdoor.myshopify.com/admin/settings",
            "https://admin.shopify.com/store/demo-outdoor/apps",
        ] {
            assert_eq!(ShopDomain::parse(raw).unwrap().as_str(), "demo-outdoor.myshopify.com", "{raw}");
        }
        assert!(ShopDomain::parse("shop.example.com").unwrap_err().contains("not a myshopify.com address"));
        assert!(ShopDomain::parse("").is_err());
        assert!(ShopDomain::parse("bad_name.myshopify.com").is_err());
        assert!(ShopDomain::parse("evil.com/.myshopify.com").is_err());
    }

    #[test]
    fn each_missing_scope_is_named_and_write_includes_read() {
        assert!(missing_scopes(
            "write_orders,read_products,write_discounts,write_customers,write_store_credit_account_transactions,\
             read_store_credit_accounts"
        )
        .is_empty());
        assert_eq!(
            missing_scopes("read_orders,read_products,read_discounts,write_customers"),
            vec!["write_discounts", "write_store_credit_account_transactions", "read_store_credit_accounts"]
        );
    }
}
