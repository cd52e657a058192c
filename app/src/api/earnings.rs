//! Tracking and earnings for the merchant: shop connection settings and API tokens, reports, an
//! affiliate's earnings and terms, held commissions, and portal sign-in links.

use crate::api::views::{AffiliateEarnings, AffiliateTermsForm, NewApiToken, ReportView, TrackingSettings};
use crate::domain::AffiliateId;
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "tracking_settings", input = server_fn::codec::Json)]
pub async fn load_tracking_settings() -> Result<TrackingSettings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(earnings::settings(&s, who.merchant()).await?)
        }
        .await,
    )
}

/// Saves the Shopify webhook signing secret; blank removes it.
#[server(prefix = "/api", endpoint = "set_shopify_secret", input = server_fn::codec::Json)]
pub async fn set_shopify_secret(secret: String) -> Result<TrackingSettings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(earnings::set_shopify_secret(&s, who.merchant(), &secret).await?)
        }
        .await,
    )
}

/// A new API token; its value is in the answer and never again.
#[server(prefix = "/api", endpoint = "create_api_token", input = server_fn::codec::Json)]
pub async fn create_api_token(name: String) -> Result<NewApiToken, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(earnings::create_token(&s, who.merchant(), &name, who.actor()).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "revoke_api_token", input = server_fn::codec::Json)]
pub async fn revoke_api_token(id: i64) -> Result<TrackingSettings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(earnings::revoke_token(&s, who.merchant(), id).await?)
        }
        .await,
    )
}

/// The results over a range of days, for one campaign or all (see `ReportFilter`).
#[server(prefix = "/api", endpoint = "earnings_report", input = server_fn::codec::Json)]
pub async fn earnings_report(filter: crate::api::views::ReportFilter) -> Result<ReportView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            earnings::report(&s, who.merchant(), &filter).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "affiliate_earnings", input = server_fn::codec::Json)]
pub async fn load_affiliate_earnings(id: AffiliateId) -> Result<AffiliateEarnings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(earnings::affiliate_earnings(&s, who.merchant(), id).await?)
        }
        .await,
    )
}

/// Sets an affiliate's coupon code and rate override.
#[server(prefix = "/api", endpoint = "set_affiliate_terms", input = server_fn::codec::Json)]
pub async fn set_affiliate_terms(id: AffiliateId, form: AffiliateTermsForm) -> Result<AffiliateEarnings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(earnings::set_terms(&s, who.merchant(), id, &form, who.actor()).await?)
        }
        .await,
    )
}

/// Releases (pays as usual) or voids a commission held for review.
#[server(prefix = "/api", endpoint = "decide_commission", input = server_fn::codec::Json)]
pub async fn decide_commission(id: i64, release: bool) -> Result<(), AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(earnings::decide_held(&s, who.merchant(), id, release).await?)
        }
        .await,
    )
}

/// A sign-in link to the affiliate portal for the merchant to pass on; also emailed through
/// Klaviyo when connected (then `true`).
#[server(prefix = "/api", endpoint = "portal_link", input = server_fn::codec::Json)]
pub async fn portal_link(id: AffiliateId) -> Result<(String, bool), AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(portal::link_for_merchant(&s, who.merchant(), id, who.actor()).await?)
        }
        .await,
    )
}
