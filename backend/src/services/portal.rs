//! The affiliate portal: sign-in links (single use, 15 minutes) delivered as a Klaviyo event when
//! the merchant's Klaviyo is connected, or handed to the merchant to pass on; sessions; and what the
//! dashboard shows.

use super::accounts::{new_token, token_hash};
use super::earnings::{commission_view, earnings_view};
use super::Services;
use crate::store::earnings::{self, Grouping};
use crate::store::now_ms;
use crate::store::portal::{self as store, NewLink, PortalAffiliate};
use anyhow::Context;
use shared::domain::campaign::{CommissionRule, StoredRule};
use shared::domain::clock::format_utc;
use shared::domain::{AffiliateId, AffiliateState, Email, MerchantId};
use shared::views::PortalDashboard;

pub const LINK_MINUTES: i64 = 15;
pub const SESSION_DAYS: i64 = 30;
pub const COOKIE: &str = "rekomi_portal";

pub fn portal_path(merchant_slug: &str) -> String {
    format!("/portal/{merchant_slug}")
}

/// Where a requested link went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDelivery {
    /// Queued as a Klaviyo event (or there was no approved affiliate with that email: the answer is
    /// the same, so the form can't be used to find out who is an affiliate).
    Emailed,
    /// The merchant has no Klaviyo connection: the affiliate must ask the merchant.
    AskMerchant,
}

/// Whether sign-in links reach affiliates by email (the merchant's Klaviyo carries them), so the
/// sign-in page offers the form only then.
pub async fn emails_links(s: &Services, merchant: MerchantId) -> anyhow::Result<bool> {
    connected(s, merchant).await
}

async fn connected(s: &Services, merchant: MerchantId) -> anyhow::Result<bool> {
    Ok(crate::store::klaviyo::get(&s.db, merchant).await.context("reading the Klaviyo connection")?.is_some())
}

/// Makes a sign-in link for the affiliate; with `event`, queues the Klaviyo event that emails it.
async fn issue(
    s: &Services,
    slug: &str,
    affiliate: &PortalAffiliate,
    actor: &str,
    event: bool,
) -> anyhow::Result<String> {
    let token = new_token();
    let hash = token_hash(&token);
    let now = now_ms();
    let expires_at = now + LINK_MINUTES * 60_000;
    let url = format!("{}{}/login?token={token}", s.public_base, portal_path(slug));
    let properties = serde_json::json!({
        "login_url": url,
        "merchant": affiliate.merchant_name,
        "first_name": affiliate.first_name,
        "expires_at": format_utc(expires_at),
        "expires_in_minutes": LINK_MINUTES,
    })
    .to_string();
    let link = NewLink {
        merchant: affiliate.merchant_id,
        affiliate: affiliate.affiliate_id,
        token_hash: &hash,
        expires_at,
        actor,
    };
    // The link and the event that emails it commit together.
    let mut tx = s.db.begin().await.context("saving a sign-in link")?;
    store::insert_link(&mut tx, &link, now).await.context("saving a sign-in link")?;
    if event {
        let unique_id = format!("login:{}", &hash[..24]);
        crate::outbox::event(
            &mut tx,
            affiliate.merchant_id,
            shared::domain::lifecycle::Metric::LoginLink.name(),
            &affiliate.email,
            &unique_id,
            &properties,
            None,
            now,
        )
        .await
        .context("queueing the sign-in email")?;
    }
    tx.commit().await.context("saving a sign-in link")?;
    Ok(url)
}

/// An affiliate asked for a link on the portal's sign-in form.
/// The shop behind a portal address: its id and name.
pub async fn merchant(s: &Services, slug: &str) -> Result<Option<(MerchantId, String)>, crate::store::DbError> {
    store::merchant_by_slug(&s.db, slug).await
}

pub async fn request_link(
    s: &Services,
    slug: &str,
    merchant: MerchantId,
    email: &Email,
) -> anyhow::Result<LinkDelivery> {
    if !connected(s, merchant).await? {
        return Ok(LinkDelivery::AskMerchant);
    }
    let found = store::affiliate_by_email(&s.db, merchant, email.as_str()).await.context("finding the affiliate")?;
    // A disabled affiliate may still sign in: the portal tells them they are paused and shows what they earned.
    // So may a banned one: what they earned before stays theirs to see.
    if let Some(affiliate) = found.filter(|a| a.state == AffiliateState::Approved || a.state.is_out()) {
        issue(s, slug, &affiliate, "affiliate", true).await?;
    }
    Ok(LinkDelivery::Emailed)
}

/// A link the merchant copies for an affiliate (always shown; also emailed when Klaviyo is connected).
pub async fn link_for_merchant(
    s: &Services,
    merchant: MerchantId,
    affiliate: AffiliateId,
    actor: &str,
) -> Result<(String, bool), shared::error::AppError> {
    let found = store::affiliate_by_id(&s.db, merchant, affiliate)
        .await
        .map_err(|e| super::internal(&anyhow::Error::new(e)))?
        .ok_or_else(|| shared::error::AppError::not_found("affiliate"))?;
    // A disabled affiliate signs in to a portal that says they are paused.
    if !(found.state == AffiliateState::Approved || found.state.is_out()) {
        return Err(shared::error::AppError::new(
            shared::error::ErrorKind::Conflict,
            "Only approved (or disabled or banned) affiliates can sign in to the portal.",
        ));
    }
    let (slug, _) = crate::store::tracking::shopify_status(&s.db, merchant)
        .await
        .map_err(|e| super::internal(&anyhow::Error::new(e)))?;
    let emailed = connected(s, merchant).await.map_err(|e| super::internal(&e))?;
    let url = issue(s, &slug, &found, actor, emailed).await.map_err(|e| super::internal(&e))?;
    Ok((url, emailed))
}

/// Uses a link; returns the new session's cookie token. `None` when the link is unknown, used or
/// expired, or the affiliate is no longer approved.
pub async fn redeem(s: &Services, merchant: MerchantId, token: &str) -> anyhow::Result<Option<String>> {
    let session = new_token();
    let now = now_ms();
    let expires = now + SESSION_DAYS * 86_400_000;
    // The link is used up and the session opened together, or neither.
    let mut tx = s.db.begin().await.context("using a sign-in link")?;
    let Some(affiliate) =
        store::use_link(&mut tx, merchant, &token_hash(token.trim()), now).await.context("using a sign-in link")?
    else {
        return Ok(None);
    };
    store::insert_session(&mut tx, merchant, affiliate, &token_hash(&session), expires, now)
        .await
        .context("opening a portal session")?;
    tx.commit().await.context("using a sign-in link")?;
    Ok(Some(session))
}

pub async fn signed_in(
    s: &Services,
    merchant: MerchantId,
    cookie: Option<&str>,
) -> anyhow::Result<Option<AffiliateId>> {
    let Some(token) = cookie else { return Ok(None) };
    store::session(&s.db, merchant, &token_hash(token), now_ms()).await.context("reading a portal session")
}

pub async fn sign_out(s: &Services, cookie: Option<&str>) -> anyhow::Result<()> {
    if let Some(token) = cookie {
        store::end_session(&s.db, &token_hash(token)).await.context("ending a portal session")?;
    }
    Ok(())
}

pub async fn dashboard(
    s: &Services,
    merchant: MerchantId,
    merchant_name: &str,
    affiliate: AffiliateId,
) -> anyhow::Result<PortalDashboard> {
    let p = store::profile(&s.db, merchant, affiliate).await.context("reading the affiliate")?;
    let totals = earnings::totals(&s.db, merchant, Grouping::Affiliate, Some(affiliate), earnings::ALL_TIME).await?;
    let t = totals.get(&affiliate.0).cloned().unwrap_or_default();
    let recent =
        earnings::commissions_of(&s.db, merchant, affiliate, 20).await?.into_iter().map(commission_view).collect();
    let rule = CommissionRule::in_force(StoredRule {
        kind: &p.commission_kind,
        bps: p.commission_bps,
        minor: p.commission_minor,
        currency: &p.currency,
        // An expired rate bump no longer applies.
        override_bps: p.rate_bps.filter(|_| p.rate_expires_at.is_none_or(|until| until > crate::store::now_ms())),
        override_minor: p.rate_minor.filter(|_| p.rate_expires_at.is_none_or(|until| until > crate::store::now_ms())),
    });
    let payouts = crate::store::payouts::of_affiliate(&s.db, merchant, affiliate)
        .await?
        .into_iter()
        .map(super::payouts::payout_view)
        .collect();
    let first_name = shared::domain::PersonName::parse(&p.full_name).map(|n| n.first().to_owned()).unwrap_or_default();
    let shop_code = super::discounts::code_view(&s.db, merchant, affiliate, p.referral_code.as_deref()).await?;
    let coupon_terms = match &shop_code {
        Some(c) if c.code.is_some() => crate::store::discounts::terms(&s.db, merchant, p.campaign_id)
            .await?
            .filter(|t| t.enabled)
            .as_ref()
            .and_then(super::discounts::terms_of)
            .map(|t| t.describe()),
        _ => None,
    };
    Ok(PortalDashboard {
        merchant_name: merchant_name.to_owned(),
        first_name,
        campaign_name: p.campaign_name,
        commission: rule.map(|r| r.describe()).unwrap_or_default(),
        cookie_days: p.cookie_days,
        hold_days: p.hold_days,
        link: p.referral_code.as_ref().map(|c| format!("{}/r/{c}", s.public_base)),
        code: p.referral_code,
        coupon: p.coupon_code,
        coupon_link: shop_code.and_then(|c| c.link),
        coupon_terms,
        clicks: t.clicks,
        conversions: t.conversions,
        earnings: earnings_view(&t.earnings),
        recent,
        payouts,
        payout_email: p.paypal_email.unwrap_or_default(),
        own_email: p.email,
        paused: p.state == AffiliateState::Disabled,
        closed: p.state == AffiliateState::Banned,
    })
}

pub async fn set_payout_email(
    s: &Services,
    merchant: MerchantId,
    affiliate: AffiliateId,
    raw: &str,
) -> anyhow::Result<Result<(), String>> {
    let raw = raw.trim();
    if raw.is_empty() {
        store::set_payout_email(&s.db, merchant, affiliate, None).await?;
        return Ok(Ok(()));
    }
    match Email::parse(raw) {
        // Payout files are opened in spreadsheets: an address that would run as a formula is refused.
        Ok(email) if email.as_str().starts_with(['=', '+', '-', '@']) => {
            Ok(Err("Enter the email address your PayPal account uses.".to_owned()))
        }
        Ok(email) => {
            store::set_payout_email(&s.db, merchant, affiliate, Some(email.as_str())).await?;
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(e.to_string())),
    }
}
