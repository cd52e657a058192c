//! What the REST API (`/api/v1`) does, on the same stores and services as the merchant app: rate
//! bumps and invites by email (the calls Klaviyo flows make), affiliate status, and paged lists.
//! The wire types here are also the OpenAPI document's schemas.

use super::invites::OneOutcome;
use super::Services;
use crate::store::affiliates::{self, ListedAffiliate, NewRate};
use crate::store::earnings::{self, CommissionRow};
use crate::store::outbox::{amount, rfc3339};
use crate::store::payouts::{self, PayoutRow};
use crate::store::{campaigns, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::domain::commission::bps_percent;
use shared::domain::commission::CommissionState;
use shared::domain::{AffiliateState, Currency, Email, MerchantId, Money, PayoutState, PersonName, Rate};
use shared::views::InviteView;
use utoipa::{IntoParams, ToSchema};

/// Who is calling the API: the token's merchant, and the token (for the audit trail and its rate
/// limit).
#[derive(Debug, Clone)]
pub struct Caller {
    pub merchant: MerchantId,
    pub token_id: i64,
    /// "api token \"Klaviyo flows\"": how changes are recorded in the audit trail.
    pub actor: String,
}

/// The caller behind a bearer token (stored hashed), if it is live; marks it used.
pub async fn caller(s: &Services, token: &str) -> Result<Option<Caller>, crate::store::DbError> {
    let hash = super::accounts::token_hash(token);
    Ok(crate::store::api_tokens::authenticate(&s.db, &hash, now_ms()).await?.map(|(token_id, merchant, name)| Caller {
        merchant,
        token_id,
        actor: format!("api token \"{name}\""),
    }))
}

/// One error: an HTTP status, a stable code for programs, and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl RestError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(422, code, message)
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "API request failed");
        Self::new(500, "internal", "Something went wrong on Rekomi's side; retry the request.")
    }
}

/// The error envelope every failed request answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `bad_token`, `rate_limited`, `affiliate_not_found`, `invalid_body`, …
    pub code: String,
    /// For people: what was wrong and what to do.
    pub message: String,
}

/// A decimal sent as a JSON number (`12.5`) or as a string (`"12.5"`, what a Klaviyo template
/// renders).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Decimal {
    Number(f64),
    Text(String),
}

impl Decimal {
    fn text(&self) -> String {
        match self {
            Self::Number(n) => format!("{n}"),
            Self::Text(t) => t.trim().to_owned(),
        }
    }
}

/// The commission an affiliate earns, and whether it is their own override.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateOut {
    /// `percent` or `flat`.
    pub kind: String,
    /// The percentage (for `percent`).
    pub percent: Option<f64>,
    /// The amount per order (for `flat`), in `currency`.
    pub flat_amount: Option<f64>,
    pub currency: String,
    /// True when this is the affiliate's own override (a rate bump), not the campaign's rule.
    pub is_override: bool,
    /// When the override ends (RFC 3339), if it does.
    pub expires_at: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AffiliateOut {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub first_name: String,
    pub last_name: Option<String>,
    /// pending, approved, rejected, disabled or banned.
    pub state: String,
    /// form, invite or import.
    pub source: String,
    pub campaign: String,
    pub campaign_slug: String,
    pub referral_code: Option<String>,
    /// The tracking link, once approved.
    pub link: Option<String>,
    pub coupon_code: Option<String>,
    pub rate: RateOut,
    pub applied_at: String,
    pub decided_at: Option<String>,
}

/// A page of results, newest first; pass `next_cursor` as `cursor` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommissionOut {
    pub id: i64,
    pub affiliate_id: i64,
    pub affiliate_name: String,
    pub order_id: String,
    pub order_name: Option<String>,
    /// pending, approved, paid, voided or held.
    pub state: String,
    pub amount: f64,
    pub amount_minor: i64,
    pub currency: String,
    /// How the amount was reached ("10 % of 120.00 USD").
    pub rule: String,
    /// A negative line from a refund after payout.
    pub clawback: bool,
    pub approves_at: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutOut {
    pub id: i64,
    pub run_id: i64,
    pub affiliate_id: i64,
    pub affiliate_name: String,
    pub payout_email: String,
    pub amount: f64,
    pub amount_minor: i64,
    pub currency: String,
    pub commissions: i64,
    /// open, paid or cancelled.
    pub state: String,
    pub reference: Option<String>,
    pub created_at: String,
    pub paid_at: Option<String>,
}

/// Sets (or with `reset`, removes) an affiliate's commission override. Exactly one of `percent` and
/// `flat_amount` unless resetting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateBumpRequest {
    /// The affiliate's email, e.g. `{{ person.email }}` in a Klaviyo flow.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// A percentage of each order (0.01 to 100), e.g. `15` or `"12.5"`.
    pub percent: Option<Decimal>,
    /// A fixed amount per order in the campaign's currency, e.g. `"5.00"`.
    pub flat_amount: Option<Decimal>,
    /// When the override ends (RFC 3339). Or use `expires_in_days`.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// Days until the override ends (1 to 3650).
    pub expires_in_days: Option<Decimal>,
    /// Why: shown to you and sent in `Rekomi Rate Changed` (up to 200 characters).
    pub reason: Option<String>,
    /// True: back to the campaign's rule.
    #[serde(default)]
    pub reset: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateBumpOut {
    pub affiliate: AffiliateOut,
    /// False when the rate was already exactly this (a repeated call).
    pub changed: bool,
}

/// Invites someone to apply; their link comes back and goes out in `Rekomi Affiliate Invited`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteApiRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Their full name, if known (`{{ person.first_name }} {{ person.last_name }}`).
    pub name: Option<String>,
    /// A campaign slug; may be left out when the shop has one campaign.
    pub campaign: Option<String>,
    /// Days the link works (1 to 90, default 14).
    pub expires_in_days: Option<Decimal>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteOut {
    pub id: i64,
    pub email: String,
    pub campaign: String,
    /// The personal, single-use link to the campaign's page.
    pub url: Option<String>,
    /// sent, opened, accepted, expired or revoked.
    pub status: String,
    pub expires_at: String,
    /// False when an invite still open for this email was returned instead of a new one.
    pub created: bool,
}

fn rate_out(a: &ListedAffiliate, now: i64) -> RateOut {
    let live = a.rate_expires_at.is_none_or(|until| until > now);
    let (bps, minor, is_override) = match (a.rate_bps, a.rate_minor) {
        (Some(b), _) if live => (Some(b), None, true),
        (None, Some(m)) if live => (None, Some(m), true),
        _ => (a.commission_bps, a.commission_minor, false),
    };
    let kind = if bps.is_some() { "percent" } else { "flat" };
    RateOut {
        kind: kind.into(),
        percent: bps.and_then(|b| bps_percent(b).parse().ok()),
        flat_amount: minor.and_then(|m| amount(m, &a.currency).as_f64()),
        currency: a.currency.clone(),
        is_override,
        expires_at: a.rate_expires_at.filter(|_| is_override).map(rfc3339),
        reason: a.rate_reason.clone().filter(|_| is_override),
    }
}

pub fn affiliate_out(s: &Services, a: ListedAffiliate) -> AffiliateOut {
    let now = now_ms();
    let rate = rate_out(&a, now);
    let link = a
        .referral_code
        .as_ref()
        .filter(|_| a.state == AffiliateState::Approved)
        .map(|c| format!("{}/r/{c}", s.public_base));
    AffiliateOut {
        id: a.id.0,
        email: a.email,
        name: a.full_name,
        first_name: a.first_name,
        last_name: a.last_name,
        state: a.state.as_str().to_owned(),
        source: a.source,
        campaign: a.campaign_name,
        campaign_slug: a.campaign_slug,
        referral_code: a.referral_code,
        link,
        coupon_code: a.coupon_code,
        rate,
        applied_at: rfc3339(a.applied_at),
        decided_at: a.decided_at.map(rfc3339),
    }
}

fn email(raw: &str) -> Result<Email, RestError> {
    Email::parse(raw).map_err(|e| RestError::invalid("invalid_email", format!("email: {e}")))
}

async fn affiliate_by_email(s: &Services, merchant: MerchantId, raw: &str) -> Result<ListedAffiliate, RestError> {
    let email = email(raw)?;
    affiliates::by_email(&s.db, merchant, email.as_str()).await.map_err(RestError::internal)?.ok_or_else(|| {
        RestError::new(
            404,
            "affiliate_not_found",
            format!("No affiliate of this shop has the email {}.", email.as_str()),
        )
    })
}

pub async fn status(s: &Services, merchant: MerchantId, raw_email: &str) -> Result<AffiliateOut, RestError> {
    Ok(affiliate_out(s, affiliate_by_email(s, merchant, raw_email).await?))
}

const DAY_MS: i64 = 86_400_000;

fn days(raw: &Decimal, field: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, RestError> {
    let text = raw.text();
    let n: i64 = text.parse().map_err(|_| {
        RestError::invalid("invalid_days", format!("{field} is a whole number of days, not \"{text}\"."))
    })?;
    if !range.contains(&n) {
        return Err(RestError::invalid(
            "invalid_days",
            format!("{field} is from {} to {} days.", range.start(), range.end()),
        ));
    }
    Ok(n)
}

pub async fn rate_bump(
    s: &Services,
    merchant: MerchantId,
    req: RateBumpRequest,
    actor: &str,
) -> Result<RateBumpOut, RestError> {
    let now = now_ms();
    let found = affiliate_by_email(s, merchant, &req.email).await?;
    let (bps, minor) = match (req.reset, &req.percent, &req.flat_amount) {
        (true, None, None) => (None, None),
        (true, _, _) => {
            return Err(RestError::invalid("invalid_rate", "Send reset alone, without percent or flat_amount."))
        }
        (false, Some(_), Some(_)) | (false, None, None) => {
            return Err(RestError::invalid(
                "invalid_rate",
                "Send exactly one of percent (e.g. 15) and flat_amount (e.g. \"5.00\"), or reset: true.",
            ))
        }
        (false, Some(p), None) => {
            let rate = Rate::parse_percent(&p.text())
                .map_err(|e| RestError::invalid("invalid_rate", format!("percent: {e}")))?;
            (Some(i64::from(rate.basis_points())), None)
        }
        (false, None, Some(f)) => {
            let currency = Currency::parse(&found.currency).map_err(RestError::internal)?;
            let money = Money::parse_positive(&f.text(), currency)
                .map_err(|e| RestError::invalid("invalid_rate", format!("flat_amount: {e}")))?;
            (None, Some(money.minor()))
        }
    };
    let expires_at = match (&req.expires_at, &req.expires_in_days) {
        (Some(_), Some(_)) => {
            return Err(RestError::invalid("invalid_expiry", "Send expires_at or expires_in_days, not both."))
        }
        (Some(at), None) if at.trim().is_empty() => None,
        (Some(at), None) => {
            let at = super::orders::parse_time(at).ok_or_else(|| {
                RestError::invalid("invalid_expiry", "expires_at is an RFC 3339 time like 2027-03-01T00:00:00Z.")
            })?;
            if at <= now {
                return Err(RestError::invalid("invalid_expiry", "expires_at is in the past."));
            }
            Some(at)
        }
        // At the end of that day (UTC), so a flow repeating the call the same day changes nothing.
        (None, Some(d)) => Some((now.div_euclid(DAY_MS) + 1 + days(d, "expires_in_days", 1..=3650)?) * DAY_MS),
        (None, None) => None,
    };
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 200) {
        return Err(RestError::invalid("invalid_reason", "reason is at most 200 characters."));
    }
    let rate = NewRate { bps, minor, expires_at, reason: reason.map(str::to_owned), actor: actor.to_owned() };
    let edit = affiliates::TermsEdit { coupon: None, rate: Some(&rate) };
    let before = crate::services::affiliates::set_terms(&s.db, merchant, found.id, edit, now)
        .await
        .map_err(RestError::internal)?;
    let changed = before != Some((bps, minor, expires_at.filter(|_| bps.is_some() || minor.is_some())));
    s.tracker.forget(found.referral_code.as_deref());
    let updated = affiliate_by_email(s, merchant, &found.email).await?;
    Ok(RateBumpOut { affiliate: affiliate_out(s, updated), changed })
}

pub async fn invite(
    s: &Services,
    merchant: MerchantId,
    req: InviteApiRequest,
    actor: &str,
) -> Result<InviteOut, RestError> {
    let email = email(&req.email)?;
    let name = match req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(PersonName::parse(n).map_err(|e| RestError::invalid("invalid_name", format!("name: {e}")))?),
        None => None,
    };
    let expires_days = match &req.expires_in_days {
        Some(d) => u16::try_from(days(d, "expires_in_days", 1..=90)?).unwrap_or(14),
        None => 14,
    };
    let all = campaigns::list(&s.db, merchant).await.map_err(RestError::internal)?;
    let campaign = match req.campaign.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(slug) => all.iter().find(|c| c.slug.eq_ignore_ascii_case(slug)).ok_or_else(|| {
            let slugs: Vec<&str> = all.iter().map(|c| c.slug.as_str()).collect();
            RestError::invalid("unknown_campaign", format!("No campaign \"{slug}\"; yours are: {}.", slugs.join(", ")))
        })?,
        None if all.len() == 1 => &all[0],
        None if all.is_empty() => {
            return Err(RestError::invalid("no_campaign", "Create a campaign first: invites open its page."))
        }
        None => {
            let slugs: Vec<&str> = all.iter().map(|c| c.slug.as_str()).collect();
            return Err(RestError::invalid(
                "campaign_required",
                format!("This shop has several campaigns: name one in campaign ({}).", slugs.join(", ")),
            ));
        }
    };
    let outcome = s
        .invites
        .invite_one(
            &s.db,
            merchant,
            actor,
            super::invites::OneInvite { campaign: campaign.id, email: &email, name: name.as_ref(), expires_days },
        )
        .await
        .map_err(|e| match e {
            super::invites::InviteError::Internal(e) => RestError::internal(format!("{e:#}")),
            other => RestError::invalid("invalid_invite", shared::error::AppError::from(other).message),
        })?;
    let out = |view: InviteView, created: bool| InviteOut {
        id: view.id,
        email: view.email,
        // The invite's own campaign: an open one may be for another of the shop's campaigns.
        campaign: all.iter().find(|c| c.id == view.campaign_id).map(|c| c.slug.clone()).unwrap_or_default(),
        url: view.link,
        status: format!("{:?}", view.status).to_lowercase(),
        expires_at: rfc3339(view.expires_at),
        created,
    };
    match outcome {
        OneOutcome::Invited(view) => Ok(out(view, true)),
        OneOutcome::Open(view) => Ok(out(view, false)),
        OneOutcome::AlreadyAffiliate(state) => Err(RestError::new(
            409,
            "already_affiliate",
            format!("{} is already an affiliate of this shop ({state}).", email.as_str()),
        )),
        OneOutcome::Refused(why) => Err(RestError::new(409, "already_invited", why)),
    }
}

/// A cursor is the last id of the page before, opaque to callers.
pub fn parse_cursor(raw: Option<&str>) -> Result<Option<i64>, RestError> {
    use base64::Engine;
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(None) };
    let bad = || RestError::new(400, "invalid_cursor", "cursor must be a next_cursor value from an earlier page.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("id:").and_then(|n| n.parse::<i64>().ok()).filter(|n| *n > 0).map(Some).ok_or_else(bad)
}

fn cursor(last: Option<i64>) -> Option<String> {
    use base64::Engine;
    last.map(|id| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}")))
}

/// Page size: 1 to 100, default 50.
pub fn limit(raw: Option<i64>) -> Result<i64, RestError> {
    match raw {
        None => Ok(50),
        Some(n) if (1..=100).contains(&n) => Ok(n),
        Some(_) => Err(RestError::new(400, "invalid_limit", "limit is from 1 to 100.")),
    }
}

fn page_of<T, R>(rows: Vec<R>, limit: i64, id: impl Fn(&R) -> i64, out: impl Fn(R) -> T) -> Page<T> {
    let more = rows.len() as i64 > limit;
    let rows: Vec<R> = rows.into_iter().take(usize::try_from(limit).unwrap_or(100)).collect();
    let next_cursor = if more { cursor(rows.last().map(&id)) } else { None };
    Page { data: rows.into_iter().map(out).collect(), next_cursor }
}

pub const AFFILIATE_STATES: [&str; 5] = ["pending", "approved", "rejected", "disabled", "banned"];
pub const COMMISSION_STATES: [&str; 5] = ["pending", "approved", "paid", "voided", "held"];

fn state_filter<S>(raw: Option<&str>, allowed: &[&str], parse: fn(&str) -> Option<S>) -> Result<Option<S>, RestError> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => match parse(s).filter(|_| allowed.contains(&s)) {
            Some(state) => Ok(Some(state)),
            None => {
                Err(RestError::new(400, "invalid_state", format!("state \"{s}\" is one of {}.", allowed.join(", "))))
            }
        },
    }
}

/// A list request's query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// 1 to 100 (default 50).
    pub limit: Option<i64>,
    /// Only this state.
    pub state: Option<String>,
    /// Only this affiliate's (commissions and payouts).
    pub affiliate_email: Option<String>,
}

/// A list request, checked.
struct ListArgs<S> {
    before: Option<i64>,
    limit: i64,
    state: Option<S>,
    affiliate: Option<shared::domain::AffiliateId>,
}

impl<S> ListArgs<S> {
    async fn parse(
        s: &Services,
        merchant: MerchantId,
        q: &ListQuery,
        states: &[&str],
        parse: fn(&str) -> Option<S>,
    ) -> Result<Self, RestError> {
        let affiliate = match q.affiliate_email.as_deref().filter(|e| !e.is_empty()) {
            Some(e) => Some(affiliate_by_email(s, merchant, e).await?.id),
            None => None,
        };
        Ok(Self {
            before: parse_cursor(q.cursor.as_deref())?,
            limit: limit(q.limit)?,
            state: state_filter(q.state.as_deref(), states, parse)?,
            affiliate,
        })
    }
}

pub async fn affiliates_page(
    s: &Services,
    merchant: MerchantId,
    q: &ListQuery,
) -> Result<Page<AffiliateOut>, RestError> {
    let a = ListArgs::parse(s, merchant, q, &AFFILIATE_STATES, AffiliateState::parse).await?;
    let rows = affiliates::page(&s.db, merchant, a.before, a.state, (0, i64::MAX), a.limit + 1)
        .await
        .map_err(RestError::internal)?;
    Ok(page_of(rows, a.limit, |a| a.id.0, |a| affiliate_out(s, a)))
}

fn commission_out(k: CommissionRow) -> CommissionOut {
    CommissionOut {
        id: k.id,
        affiliate_id: k.affiliate_id.0,
        affiliate_name: k.affiliate_name,
        order_id: k.order_id,
        order_name: k.order_name,
        state: k.state.as_str().to_owned(),
        amount: amount(k.amount_minor, &k.currency).as_f64().unwrap_or_default(),
        amount_minor: k.amount_minor,
        currency: k.currency,
        rule: k.rule,
        clawback: k.is_clawback,
        approves_at: rfc3339(k.approve_at),
        created_at: rfc3339(k.created_at),
    }
}

pub async fn commissions_page(
    s: &Services,
    merchant: MerchantId,
    q: &ListQuery,
) -> Result<Page<CommissionOut>, RestError> {
    let a = ListArgs::parse(s, merchant, q, &COMMISSION_STATES, CommissionState::parse).await?;
    let rows = earnings::page(&s.db, merchant, a.before, a.state, a.affiliate, (0, i64::MAX), a.limit + 1)
        .await
        .map_err(RestError::internal)?;
    Ok(page_of(rows, a.limit, |k| k.id, commission_out))
}

fn payout_out(p: PayoutRow) -> PayoutOut {
    PayoutOut {
        id: p.id,
        run_id: p.run_id.get(),
        affiliate_id: p.affiliate_id.0,
        affiliate_name: p.affiliate_name,
        payout_email: p.payout_email,
        amount: amount(p.amount_minor, &p.currency).as_f64().unwrap_or_default(),
        amount_minor: p.amount_minor,
        currency: p.currency,
        commissions: p.lines,
        state: p.state.as_str().to_owned(),
        reference: p.reference,
        created_at: rfc3339(p.created_at),
        paid_at: p.paid_at.map(rfc3339),
    }
}

pub const PAYOUT_STATES: [&str; 3] = ["open", "paid", "cancelled"];

pub async fn payouts_page(s: &Services, merchant: MerchantId, q: &ListQuery) -> Result<Page<PayoutOut>, RestError> {
    let a = ListArgs::parse(s, merchant, q, &PAYOUT_STATES, PayoutState::parse).await?;
    let rows = payouts::page(&s.db, merchant, a.before, a.state, a.affiliate, (0, i64::MAX), a.limit + 1)
        .await
        .map_err(RestError::internal)?;
    Ok(page_of(rows, a.limit, |p| p.id, payout_out))
}

/// Strips the body's own `idempotency_key` (for callers that can't vary a header, like Klaviyo's
/// webhook action) before the body is read as the request.
pub fn take_body_key(body: &mut Value) -> Option<String> {
    body.as_object_mut()?.remove("idempotency_key").and_then(|v| match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let c = cursor(Some(42)).expect("cursor");
        assert_eq!(parse_cursor(Some(&c)), Ok(Some(42)));
        assert_eq!(parse_cursor(None), Ok(None));
        assert_eq!(parse_cursor(Some("nope!")).map_err(|e| e.code), Err("invalid_cursor"));
        assert_eq!(limit(Some(0)).map_err(|e| e.code), Err("invalid_limit"));
    }

    #[test]
    fn decimals_come_as_numbers_or_strings() {
        let n: Decimal = serde_json::from_str("12.5").expect("number");
        let t: Decimal = serde_json::from_str("\" 15 \"").expect("string");
        assert_eq!((n.text(), t.text()), ("12.5".to_owned(), "15".to_owned()));
    }
}
