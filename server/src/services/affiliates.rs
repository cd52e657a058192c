//! Affiliates arriving through the public landing page, and the merchant's approval queue.

use super::accounts::random_suffix;
use super::campaigns::commission;
use super::rate_limit::IpRateLimiter;
use crate::store::affiliates::{self as store, AffiliateRow, Applied, NewApplication, Skip};
use crate::store::campaigns::{self as campaign_store, CampaignRow};
use crate::store::sync as sync_store;
use crate::store::{now_ms, Db};
use app::api::views::{
    AffiliateDetail, ApplicationView, AuditEntry, DecisionOutcome, QueueFilter, QueuePage, StateCounts, SyncView,
    QUEUE_PAGE_SIZE,
};
use app::domain::affiliate::Decision;
use app::domain::{AffiliateId, AffiliateState, ApplicationForm, FieldErrors, MerchantId, ReferralCode};
use app::error::{AppError, ErrorKind};
use app::pages::join::PublicCampaign;
use std::collections::HashMap;
use std::net::IpAddr;

/// At most this many ids in one bulk decision, so one request can't hold the write lock for long.
pub const MAX_BULK_DECISION: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum AffiliateError {
    #[error("no such campaign")]
    UnknownCampaign,
    #[error("campaign closed")]
    CampaignClosed { merchant_name: String },
    #[error("invalid application")]
    Invalid(FieldErrors),
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    #[error("too many ids in one decision")]
    TooMany,
    #[error("no such affiliate")]
    UnknownAffiliate,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<AffiliateError> for AppError {
    fn from(value: AffiliateError) -> Self {
        match value {
            AffiliateError::UnknownCampaign | AffiliateError::CampaignClosed { .. } => AppError::not_found("campaign"),
            AffiliateError::UnknownAffiliate => AppError::not_found("affiliate"),
            AffiliateError::Invalid(fields) => AppError::invalid(fields),
            AffiliateError::RateLimited(secs) => AppError::rate_limited(secs),
            AffiliateError::TooMany => AppError::new(
                ErrorKind::Invalid,
                format!("Decide on at most {MAX_BULK_DECISION} applications at once."),
            ),
            AffiliateError::Internal(e) => super::internal(&e),
        }
    }
}

/// What happened to an application from the public page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    Received {
        first_name: String,
    },
    Approved {
        first_name: String,
        referral_code: String,
    },
    /// The merchant already has this email (in this program or another). The answer names no
    /// program, so the page can't be used to look up who is in which program.
    AlreadyApplied,
}

/// The campaign behind `/join/{merchant}/{campaign}`, if it exists and accepts applications.
pub async fn public_campaign(
    db: &Db,
    merchant_slug: &str,
    campaign_slug: &str,
) -> Result<(CampaignRow, PublicCampaign), AffiliateError> {
    let row = campaign_store::by_slugs(db, merchant_slug, campaign_slug)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(AffiliateError::UnknownCampaign)?;
    if !row.accepting {
        return Err(AffiliateError::CampaignClosed { merchant_name: row.merchant_name });
    }
    let public = public_view(&row)?;
    Ok((row, public))
}

/// The campaign as its landing page shows it.
pub fn public_view(row: &CampaignRow) -> anyhow::Result<PublicCampaign> {
    Ok(PublicCampaign {
        merchant_name: row.merchant_name.clone(),
        campaign_name: row.name.clone(),
        pitch: row.pitch.clone(),
        terms: row.terms.clone(),
        terms_version: row.terms_version,
        commission: commission(row)?.describe(),
        cookie_days: u16::try_from(row.cookie_days).unwrap_or(30),
    })
}

/// Takes an application from the public form. Idempotent per (merchant, email); an auto-approve
/// campaign approves in the same transaction.
#[tracing::instrument(skip_all, fields(campaign.id = %campaign.id))]
pub async fn apply(
    db: &Db,
    limiter: &IpRateLimiter,
    campaign: &CampaignRow,
    form: &ApplicationForm,
    ip: IpAddr,
) -> Result<ApplyOutcome, AffiliateError> {
    if form.is_bot() {
        // Look like success so the bot moves on; store nothing.
        tracing::info!("honeypot filled in; application dropped");
        return Ok(ApplyOutcome::Received { first_name: "there".into() });
    }
    let shown_version = form.terms_version.trim().parse::<i64>().ok();
    if shown_version.is_some_and(|v| v != campaign.terms_version) {
        let mut errors = form.parse().err().unwrap_or_default();
        errors.add(
            "accept_terms",
            "The program terms changed while you were reading. Please read the new terms and accept them.",
        );
        return Err(AffiliateError::Invalid(errors));
    }
    let application = form.parse().map_err(AffiliateError::Invalid)?;
    // Counted only once the form parses: a person fixing typos is not locked out, and what is
    // limited is what writes.
    limiter.check(ip).map_err(AffiliateError::RateLimited)?;
    let new = NewApplication {
        merchant: campaign.merchant_id,
        campaign: campaign.id,
        application: &application,
        terms_version: campaign.terms_version,
        auto_approve: campaign.auto_approve,
        now: now_ms(),
    };
    let mut codes = new_code;
    let applied = store::apply(db, new, &mut codes).await.map_err(anyhow::Error::from)?;
    let first_name = application.name.first().to_owned();
    Ok(match applied {
        Applied::Created { referral_code: Some(referral_code), .. } => {
            ApplyOutcome::Approved { first_name, referral_code }
        }
        Applied::Created { .. } => ApplyOutcome::Received { first_name },
        Applied::Exists => ApplyOutcome::AlreadyApplied,
    })
}

pub fn new_code(first_name: &str) -> String {
    ReferralCode::generate(first_name, &random_suffix(5)).as_str().to_owned()
}

#[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
pub async fn queue(db: &Db, merchant: MerchantId, filter: &QueueFilter) -> Result<QueuePage, AffiliateError> {
    let (rows, total) = store::queue(db, merchant, filter).await.map_err(anyhow::Error::from)?;
    let mut counts = StateCounts::default();
    for (state, n) in store::state_counts(db, merchant).await.map_err(anyhow::Error::from)? {
        match AffiliateState::parse(&state) {
            Some(AffiliateState::Pending) => counts.pending = n,
            Some(AffiliateState::Approved) => counts.approved = n,
            Some(AffiliateState::Rejected) => counts.rejected = n,
            Some(AffiliateState::Disabled) => counts.disabled = n,
            None => {}
        }
    }
    Ok(QueuePage {
        items: with_syncs(db, merchant, rows.into_iter().map(view).collect()).await?,
        total,
        page: filter.page,
        page_size: QUEUE_PAGE_SIZE,
        counts,
    })
}

/// Approves or rejects many applications in one transaction, recording `actor` on each.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, count = ids.len(), decision = ?decision))]
pub async fn decide(
    db: &Db,
    merchant: MerchantId,
    actor: &str,
    ids: &[AffiliateId],
    decision: Decision,
) -> Result<DecisionOutcome, AffiliateError> {
    if ids.len() > MAX_BULK_DECISION {
        return Err(AffiliateError::TooMany);
    }
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    let mut codes = new_code;
    let results = store::decide(db, merchant, &unique, decision.target(), actor, now_ms(), &mut codes)
        .await
        .map_err(anyhow::Error::from)?;
    let mut changed_ids = Vec::new();
    let mut skipped = Vec::new();
    for (id, result) in results {
        match result {
            Ok(()) => changed_ids.push(id),
            Err(skip) => skipped.push((id, skip_reason(&skip))),
        }
    }
    let changed = store::by_ids(db, merchant, &changed_ids).await.map_err(anyhow::Error::from)?;
    tracing::info!(changed = changed.len(), skipped = skipped.len(), "decision applied");
    let changed = with_syncs(db, merchant, changed.into_iter().map(view).collect()).await?;
    Ok(DecisionOutcome { changed, skipped })
}

fn skip_reason(skip: &Skip) -> String {
    match skip {
        // Another merchant's id reads exactly like a missing one.
        Skip::NotFound => "not found".into(),
        Skip::AlreadyInState(state) => format!("already {}", state.as_str()),
        Skip::ChangedMeanwhile => "changed by someone else meanwhile; reload to see it".into(),
        Skip::NotAllowed { from, to } => {
            format!("{} applications can't be {}", from.label().to_lowercase(), to.as_str())
        }
    }
}

/// Attaches each affiliate's latest Klaviyo sync.
async fn with_syncs(
    db: &Db,
    merchant: MerchantId,
    mut items: Vec<ApplicationView>,
) -> Result<Vec<ApplicationView>, AffiliateError> {
    let ids: Vec<AffiliateId> = items.iter().map(|a| a.id).collect();
    // Oldest change first, so the latest sync of each affiliate is the one left in the map.
    let latest: HashMap<AffiliateId, SyncView> = sync_store::latest_for(db, merchant, &ids)
        .await
        .map_err(anyhow::Error::from)?
        .into_iter()
        .map(|s| (s.affiliate_id, s))
        .collect();
    for item in &mut items {
        item.sync = latest.get(&item.id).cloned();
    }
    Ok(items)
}

/// One affiliate with its audit trail, syncs and the newest Klaviyo calls made for it.
pub async fn detail(db: &Db, merchant: MerchantId, id: AffiliateId) -> Result<AffiliateDetail, AffiliateError> {
    let row = store::by_ids(db, merchant, &[id])
        .await
        .map_err(anyhow::Error::from)?
        .into_iter()
        .next()
        .ok_or(AffiliateError::UnknownAffiliate)?;
    let audit = store::audit_trail(db, merchant, id)
        .await
        .map_err(anyhow::Error::from)?
        .into_iter()
        .map(|(actor, action, from_state, to_state, at)| AuditEntry { actor, action, from_state, to_state, at })
        .collect();
    let syncs = sync_store::for_affiliate(db, merchant, id).await.map_err(anyhow::Error::from)?;
    let log = sync_store::log_for(db, merchant, id, 200).await.map_err(anyhow::Error::from)?;
    let mut affiliate = view(row);
    affiliate.sync = syncs.first().cloned();
    Ok(AffiliateDetail { affiliate, audit, syncs, log })
}

pub fn view(row: AffiliateRow) -> ApplicationView {
    ApplicationView {
        id: row.id,
        campaign_id: row.campaign_id,
        campaign_name: row.campaign_name,
        full_name: row.full_name,
        first_name: row.first_name,
        last_name: row.last_name,
        email: row.email,
        website: row.website,
        message: row.message,
        state: AffiliateState::parse(&row.state).unwrap_or(AffiliateState::Pending),
        referral_code: row.referral_code,
        source: row.source,
        applied_at: row.applied_at,
        consent_terms_version: row.consent_terms_version,
        consent_at: row.consent_at,
        decided_at: row.decided_at,
        decided_by: row.decided_by,
        sync: None,
    }
}
