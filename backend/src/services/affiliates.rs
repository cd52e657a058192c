//! Affiliates arriving through the public landing page, the merchant's approval queue, and an
//! affiliate's terms.
//!
//! Each use case here opens its transaction, reads and writes through `store::affiliates`, asks
//! the domain which state may follow which, queues its side effects through `crate::outbox`, and
//! commits. An approval, whoever makes it, is [`approve_in`].

use super::accounts::random_suffix;
use super::campaigns::commission;
use super::rate_limit::IpRateLimiter;
use crate::outbox;
use crate::store::affiliates::{self as store, AffiliateRow};
/// The parts of [`set_terms`], named here too for its callers.
pub use crate::store::affiliates::{NewRate, RateTriple, TermsEdit};
use crate::store::audit::{self, ACTOR_APPLICANT};
use crate::store::campaigns::{self as campaign_store, CampaignRow};
use crate::store::earnings as earnings_store;
use crate::store::sync as sync_store;
use crate::store::verifications as verification_store;
use crate::store::{now_ms, Db, DbError, DbResult, Tx};
use serde_json::json;
use shared::domain::affiliate::{Decision, MAX_DECISION_NOTE};
use shared::domain::lifecycle::{Metric, Topic};
use shared::domain::{AffiliateId, AffiliateState, ApplicationForm, FieldErrors, MerchantId, ReferralCode};
use shared::error::{AppError, ErrorKind};
use shared::views::PublicCampaign;
use shared::views::{
    AffiliateDetail, ApplicationView, AuditEntry, DecisionOutcome, QueueFilter, QueuePage, StateCounts, SyncView,
    QUEUE_PAGE_SIZE,
};
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
    #[error("note too long")]
    NoteTooLong,
    #[error("a ban needs a reason")]
    ReasonRequired,
    #[error("already erased")]
    AlreadyErased,
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
            AffiliateError::NoteTooLong => {
                AppError::new(ErrorKind::Invalid, format!("Keep the reason under {MAX_DECISION_NOTE} characters."))
            }
            AffiliateError::ReasonRequired => AppError::new(
                ErrorKind::Invalid,
                "Say why you are banning: the reason is kept in the audit log and sent with affiliate.banned.",
            ),
            AffiliateError::AlreadyErased => {
                AppError::new(ErrorKind::Conflict, "This affiliate's personal data was already erased.")
            }
            AffiliateError::Internal(e) => super::internal(&e),
        }
    }
}

impl From<DbError> for AffiliateError {
    fn from(value: DbError) -> Self {
        Self::Internal(value.into())
    }
}

/// What happened to an application from the public page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    Received {
        first_name: String,
    },
    /// A form application waits for its applicant to confirm the address; `emailed` when the
    /// merchant's Klaviyo is connected to carry the link. The same answer whether or not the
    /// address had applied before, so the form can't be used to find out who did.
    ConfirmEmail {
        first_name: String,
        emailed: bool,
    },
    Approved {
        first_name: String,
        referral_code: String,
    },
    /// The merchant already has this email (in this program or another). The answer names no
    /// program, so the page can't be used to look up who is in which program.
    AlreadyApplied,
    /// The merchant banned this email or the address the application came from.
    NotAccepted,
}

/// The campaign behind `/join/{merchant}/{campaign}`, if it exists and accepts applications.
pub async fn public_campaign(
    db: &Db,
    merchant_slug: &str,
    campaign_slug: &str,
) -> Result<(CampaignRow, PublicCampaign), AffiliateError> {
    let (row, public) = linked_campaign(db, merchant_slug, campaign_slug).await?;
    if !row.accepting {
        return Err(AffiliateError::CampaignClosed { merchant_name: row.merchant_name });
    }
    Ok((row, public))
}

/// The campaign behind a verification link: it works after applications close, for those who
/// applied before.
pub async fn linked_campaign(
    db: &Db,
    merchant_slug: &str,
    campaign_slug: &str,
) -> Result<(CampaignRow, PublicCampaign), AffiliateError> {
    let row = campaign_store::by_slugs(db, merchant_slug, campaign_slug)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(AffiliateError::UnknownCampaign)?;
    let mut public = public_view(&row)?;
    public.questions = crate::store::questions::current(db, row.id).await.map_err(anyhow::Error::from)?;
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
        questions: Vec::new(),
        branding: row.branding(),
    })
}

/// Takes an application from the public form. Idempotent per (merchant, email). The applicant is
/// unverified until they open the link queued here (`Rekomi Affiliate Verify Email`): until then
/// nothing else about them reaches Klaviyo and an auto-approve campaign waits
/// ([`super::verification`]). Applying again with an address still to be confirmed sends a new
/// link (a few a day).
#[tracing::instrument(skip_all, fields(campaign.id = %campaign.id))]
pub async fn apply(
    db: &Db,
    limiter: &IpRateLimiter,
    public_base: &str,
    campaign: &CampaignRow,
    form: &ApplicationForm,
    ip: IpAddr,
) -> Result<ApplyOutcome, AffiliateError> {
    if form.is_bot() {
        // Look like success so the bot moves on; store nothing.
        tracing::info!("honeypot filled in; application dropped");
        return Ok(ApplyOutcome::ConfirmEmail { first_name: "there".into(), emailed: false });
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
    // The campaign's own questions are checked with the standard fields, so every mistake shows at once.
    let questions = crate::store::questions::current(db, campaign.id).await?;
    let mut answers = Vec::with_capacity(questions.len());
    let mut errors = form.parse().err().unwrap_or_default();
    for q in &questions {
        let field = q.field();
        if let Some(Some(answer)) = errors.check(&field, q.answer(form.answers.get(&field).map(String::as_str))) {
            answers.push((q.id, answer));
        }
    }
    if !errors.is_empty() {
        return Err(AffiliateError::Invalid(errors));
    }
    let application = form.parse().map_err(AffiliateError::Invalid)?;
    // Counted only once the form parses: a person fixing typos is not locked out, and what is
    // limited is what writes.
    limiter.check(ip).map_err(AffiliateError::RateLimited)?;
    let (merchant, now) = (campaign.merchant_id, now_ms());
    let first_name = application.name.first().to_owned();
    let emailed = crate::store::klaviyo::get(db, merchant).await?.is_some();
    let mut tx = db.begin().await?;
    let address = ip.to_string();
    if store::is_banned(&mut tx, merchant, application.email.as_str(), Some(&address)).await? {
        tracing::info!("application from a banned email or address refused");
        return Ok(ApplyOutcome::NotAccepted);
    }
    let inserted = store::insert_applicant(
        &mut tx,
        merchant,
        campaign.id,
        &application,
        campaign.terms_version,
        "form",
        None,
        now,
    )
    .await?;
    let link = super::verification::Link { campaign, public_base };
    // Without Klaviyo no link is queued: kept until a reconnect it could arrive expired, or after
    // the merchant confirmed the address by hand (which the page tells the applicant they will).
    match inserted {
        Some(id) => {
            store::record_ip(&mut tx, id, &address).await?;
            audit::record(&mut tx, merchant, ACTOR_APPLICANT, "applied", id, None, Some(AffiliateState::Pending), now)
                .await?;
            crate::store::questions::save_answers(&mut tx, id, &answers).await?;
            if emailed {
                link.send(&mut tx, id, application.email.as_str(), &first_name, now).await?;
            }
        }
        None if emailed => {
            let found = verification_store::unverified_by_email(&mut tx, merchant, application.email.as_str()).await?;
            if let Some(applicant) = found {
                link.send(&mut tx, applicant.id, &applicant.email, &applicant.first_name, now).await?;
            }
        }
        None => {}
    }
    tx.commit().await?;
    Ok(ApplyOutcome::ConfirmEmail { first_name, emailed })
}

pub fn new_code(first_name: &str) -> String {
    ReferralCode::generate(first_name, &random_suffix(5)).as_str().to_owned()
}

/// Fresh candidates tried for a referral code before giving up.
const CODE_ATTEMPTS: usize = 20;

/// A referral code no affiliate has yet. Codes are unique on the whole instance (`/r/{code}` names
/// no shop); after [`CODE_ATTEMPTS`] clashes, the unique constraint's conflict.
async fn free_code(tx: &mut Tx, first_name: &str) -> DbResult<String> {
    for _ in 0..CODE_ATTEMPTS {
        let candidate = new_code(first_name);
        if !store::code_taken(tx, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(DbError::Conflict { constraint: "affiliates_referral_code_key".into() })
}

/// An affiliate about to be approved, as the use case read it in its transaction.
#[derive(Debug, Clone, Copy)]
pub struct Approvable<'a> {
    pub id: AffiliateId,
    /// The state it was read in; the approval applies only if it still is.
    pub from: AffiliateState,
    pub first_name: &'a str,
    pub has_code: bool,
}

/// What [`approve_in`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Approved; `new_code` is the referral code it was given (`None`: it kept the one it had).
    Approved { new_code: Option<String> },
    /// Another decision committed first; nothing was written.
    ChangedMeanwhile,
}

/// Approves an affiliate inside the caller's transaction, whoever decides it (an auto-approving
/// campaign, an accepted invite, the merchant): a referral code if it has none, the state guarded
/// by the one read, the audit entry, and (the outbox: they commit with the approval, or nothing
/// does) its Klaviyo sync, `Rekomi Affiliate Approved` and the `affiliate.approved` webhook.
pub async fn approve_in(
    tx: &mut Tx,
    merchant: MerchantId,
    affiliate: Approvable<'_>,
    actor: &str,
    now: i64,
) -> DbResult<Approval> {
    let Approvable { id, from, first_name, has_code } = affiliate;
    let new_code = if has_code { None } else { Some(free_code(tx, first_name).await?) };
    if !store::approve(tx, merchant, id, from, new_code.as_deref(), actor, now).await? {
        return Ok(Approval::ChangedMeanwhile);
    }
    audit::record(tx, merchant, actor, "approved", id, Some(from), Some(AffiliateState::Approved), now).await?;
    outbox::sync(tx, merchant, id, now).await?;
    announce_approval(tx, merchant, id, now).await?;
    Ok(Approval::Approved { new_code })
}

/// Queues `Rekomi Affiliate Applied` for a new applicant; `source` is how they came (`form`,
/// `invite`).
pub(crate) async fn announce_application(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    source: &str,
    now: i64,
) -> DbResult<()> {
    let applicant = store::announced(tx, id).await?;
    let properties = json!({ "campaign": applicant.campaign, "source": source, "first_name": applicant.first_name });
    outbox::lifecycle(tx, merchant, Metric::Applied, &applicant.email, &format!("applied:{id}"), &properties, now).await
}

/// Queues `Rekomi Affiliate Approved` and the `affiliate.approved` webhook. The event's `link` is
/// added when it is sent, from this instance's public address.
async fn announce_approval(tx: &mut Tx, merchant: MerchantId, id: AffiliateId, now: i64) -> DbResult<()> {
    let store::Announced { email, full_name, first_name, referral_code: code, campaign } =
        store::announced(tx, id).await?;
    let properties = json!({ "campaign": campaign, "referral_code": code, "first_name": first_name });
    let unique = format!("approved:{id}:{now}");
    outbox::lifecycle(tx, merchant, Metric::Approved, &email, &unique, &properties, now).await?;
    let data = json!({ "id": id, "email": email, "name": full_name, "campaign": campaign, "referral_code": code });
    let event_id = format!("evt_affiliate_approved_{id}_{now}");
    outbox::webhook(tx, merchant, Topic::AffiliateApproved, &event_id, data, now).await
}

#[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
pub async fn queue(db: &Db, merchant: MerchantId, filter: &QueueFilter) -> Result<QueuePage, AffiliateError> {
    let (rows, total) = store::queue(db, merchant, filter).await?;
    let mut counts = StateCounts::default();
    for (state, n) in store::state_counts(db, merchant).await? {
        match state {
            AffiliateState::Pending => counts.pending = n,
            AffiliateState::Approved => counts.approved = n,
            AffiliateState::Rejected => counts.rejected = n,
            AffiliateState::Disabled => counts.disabled = n,
            AffiliateState::Banned => counts.banned = n,
        }
    }
    let items = with_syncs(db, merchant, rows.into_iter().map(view).collect()).await?;
    Ok(QueuePage {
        items: with_answers(db, merchant, items).await?,
        total,
        page: filter.page,
        page_size: QUEUE_PAGE_SIZE,
        counts,
    })
}

/// The affiliates directory: every affiliate (any state) with what they brought in, filtered,
/// sorted and paged in the database.
pub async fn directory(
    db: &Db,
    merchant: MerchantId,
    filter: &shared::views::DirectoryFilter,
) -> Result<shared::views::DirectoryPage, AffiliateError> {
    use super::earnings::money_text;
    use shared::views::{DirectoryPage, DirectoryRow, DIRECTORY_PAGE_SIZE};
    let (figures, total) = store::directory(db, merchant, filter).await?;
    let ids: Vec<AffiliateId> = figures.iter().map(|f| f.id).collect();
    let rows = store::by_ids(db, merchant, &ids).await?;
    let mut views: HashMap<AffiliateId, ApplicationView> =
        with_syncs(db, merchant, rows.into_iter().map(view).collect()).await?.into_iter().map(|v| (v.id, v)).collect();
    let rows = figures
        .into_iter()
        .filter_map(|f| {
            Some(DirectoryRow {
                affiliate: views.remove(&f.id)?,
                clicks: f.clicks,
                orders: f.orders,
                revenue: money_text(f.revenue, &f.currency),
                earned: money_text(f.earned, &f.currency),
            })
        })
        .collect();
    let campaigns = campaign_store::list(db, merchant).await?.into_iter().map(|c| (c.id, c.name)).collect();
    Ok(DirectoryPage { rows, total, page: filter.page, page_size: DIRECTORY_PAGE_SIZE, campaigns })
}

/// Why an id in a decision was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    NotFound,
    AlreadyInState(AffiliateState),
    NotAllowed {
        from: AffiliateState,
        to: AffiliateState,
    },
    /// Another decision on the same affiliate committed first.
    ChangedMeanwhile,
    /// An applicant from the form who hasn't confirmed their email can't be approved yet.
    Unverified,
    /// Confirming by hand an address that already is.
    AlreadyVerified,
}

/// Applies one decision to many affiliates in one transaction, recording `actor` (and the
/// merchant's `note`, when given) on each.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, count = ids.len(), decision = ?decision))]
pub async fn decide(
    db: &Db,
    merchant: MerchantId,
    actor: &str,
    ids: &[AffiliateId],
    decision: Decision,
    note: Option<&str>,
) -> Result<DecisionOutcome, AffiliateError> {
    decide_with(db, merchant, actor, ids, decision, note, false).await
}

/// Bans affiliates with a reason (required); with `address`, the address each applied from can't
/// apply again either.
pub async fn ban(
    db: &Db,
    merchant: MerchantId,
    actor: &str,
    ids: &[AffiliateId],
    reason: &str,
    address: bool,
) -> Result<DecisionOutcome, AffiliateError> {
    decide_with(db, merchant, actor, ids, Decision::Ban, Some(reason), address).await
}

async fn decide_with(
    db: &Db,
    merchant: MerchantId,
    actor: &str,
    ids: &[AffiliateId],
    decision: Decision,
    note: Option<&str>,
    ban_address: bool,
) -> Result<DecisionOutcome, AffiliateError> {
    if ids.len() > MAX_BULK_DECISION {
        return Err(AffiliateError::TooMany);
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_DECISION_NOTE) {
        return Err(AffiliateError::NoteTooLong);
    }
    if decision == Decision::Ban && note.is_none() {
        return Err(AffiliateError::ReasonRequired);
    }
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    let now = now_ms();
    let mut changed_ids = Vec::new();
    let mut skipped = Vec::new();
    let mut tx = db.begin().await?;
    for id in unique {
        let how = How { actor, note, ban_address };
        match decide_one(&mut tx, merchant, id, decision, how, now).await? {
            Ok(()) => changed_ids.push(id),
            Err(skip) => skipped.push((id, skip_reason(&skip))),
        }
    }
    tx.commit().await?;
    let changed = store::by_ids(db, merchant, &changed_ids).await?;
    tracing::info!(changed = changed.len(), skipped = skipped.len(), "decision applied");
    let changed = with_syncs(db, merchant, changed.into_iter().map(view).collect()).await?;
    Ok(DecisionOutcome { changed, skipped })
}

/// The affiliate's referral code, to forget it in the tracker's memory around a change.
pub async fn code_of(db: &Db, merchant: MerchantId, id: AffiliateId) -> Option<String> {
    let rows = store::by_ids(db, merchant, &[id]).await.ok()?;
    rows.into_iter().next().and_then(|row| view(row).referral_code)
}

impl super::Services {
    /// [`decide`] for a signed-in merchant; then the redirect and attribution on this instance see
    /// the change at once (other instances within the code cache's minute).
    pub async fn decide(
        &self,
        who: &super::accounts::SignedIn,
        ids: &[AffiliateId],
        decision: Decision,
        note: Option<&str>,
    ) -> Result<DecisionOutcome, AffiliateError> {
        let outcome = decide(&self.db, who.merchant(), who.actor(), ids, decision, note).await?;
        self.tracker.forget(outcome.changed.iter().filter_map(|v| v.referral_code.as_deref()));
        Ok(outcome)
    }

    /// Confirms applicants' addresses by hand ([`super::verification::by_hand`]); an auto-approve
    /// campaign approves them, so their codes start resolving at once.
    pub async fn verify_by_hand(
        &self,
        who: &super::accounts::SignedIn,
        ids: &[AffiliateId],
    ) -> Result<DecisionOutcome, AffiliateError> {
        let (db, merchant) = (&self.db, who.merchant());
        let (changed_ids, skips) = super::verification::by_hand(db, merchant, who.actor(), ids).await?;
        let changed = store::by_ids(db, merchant, &changed_ids).await?;
        let changed = with_syncs(db, merchant, changed.into_iter().map(view).collect()).await?;
        self.tracker.forget(changed.iter().filter_map(|v| v.referral_code.as_deref()));
        let skipped = skips.iter().map(|(id, skip)| (*id, skip_reason(skip))).collect();
        Ok(DecisionOutcome { changed, skipped })
    }

    /// [`erase`] for a signed-in merchant; the erased referral code stops resolving at once.
    pub async fn erase(
        &self,
        who: &super::accounts::SignedIn,
        id: AffiliateId,
    ) -> Result<ApplicationView, AffiliateError> {
        let code = code_of(&self.db, who.merchant(), id).await;
        let erased = erase(&self.db, who.merchant(), who.actor(), id).await?;
        self.tracker.forget(code);
        Ok(erased)
    }

    /// [`ban`] for a signed-in merchant.
    pub async fn ban(
        &self,
        who: &super::accounts::SignedIn,
        ids: &[AffiliateId],
        reason: &str,
        address: bool,
    ) -> Result<DecisionOutcome, AffiliateError> {
        let outcome = ban(&self.db, who.merchant(), who.actor(), ids, reason, address).await?;
        self.tracker.forget(outcome.changed.iter().filter_map(|v| v.referral_code.as_deref()));
        Ok(outcome)
    }
}

/// A person's data-protection request: their personal data is removed from Rekomi (name, email,
/// website, message, codes, payout addresses, the address they applied from, their Klaviyo events,
/// invites, portal links, webhook deliveries naming them) and the row stays as a pseudonym, so the
/// money records on it (commissions, payouts) are kept. An approved affiliate is taken out of the
/// program (pending commissions held for review). Klaviyo gets its part through the outbox: out of
/// the lists, Rekomi's properties unset. The audit log records only that the erasure happened.
pub async fn erase(
    db: &Db,
    merchant: MerchantId,
    actor: &str,
    id: AffiliateId,
) -> Result<ApplicationView, AffiliateError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let found = store::erasable(&mut tx, merchant, id).await?.ok_or(AffiliateError::UnknownAffiliate)?;
    if found.erased_at.is_some() {
        return Err(AffiliateError::AlreadyErased);
    }
    let to = if found.state == AffiliateState::Approved { AffiliateState::Disabled } else { found.state };
    if to != found.state {
        earnings_store::hold_for_disabled(&mut tx, merchant, id, now).await?;
    }
    let lists = store::erase(&mut tx, merchant, id, &found.email, now).await?;
    // Its discount code leaves the shop too.
    outbox::discounts(&mut tx, merchant, &[id], now).await?;
    crate::store::questions::erase_answers(&mut tx, id).await?;
    if !lists.is_empty() {
        outbox::erase_in_klaviyo(&mut tx, merchant, &found.email, &lists, now).await?;
    }
    audit::record(&mut tx, merchant, actor, "erased", id, Some(found.state), Some(to), now).await?;
    tx.commit().await?;
    tracing::info!(affiliate.id = %id, "affiliate erased");
    let row = store::by_ids(db, merchant, &[id]).await?.into_iter().next().ok_or(AffiliateError::UnknownAffiliate)?;
    Ok(view(row))
}

/// Who decides, why, and (for a ban) whether the address they applied from is banned too.
#[derive(Debug, Clone, Copy)]
struct How<'a> {
    actor: &'a str,
    note: Option<&'a str>,
    ban_address: bool,
}

/// Applies `decision` to one affiliate inside the decision's transaction, or says why not.
///
/// Disabling takes the affiliate out of the program without deciding anything about the money or
/// the person: their link and coupon stop earning (attribution only counts approved affiliates),
/// pending commissions are held for review, Klaviyo gets `Rekomi affiliate` false and the profile
/// leaves the list (consent untouched), and flows hear `Rekomi Affiliate Disabled`. Banning does
/// the same, for good, and keeps their email (optionally address) from applying again. Enabling
/// reverses each of those.
async fn decide_one(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    decision: Decision,
    how: How<'_>,
    now: i64,
) -> DbResult<Result<(), Skip>> {
    let How { actor, note, ban_address } = how;
    let Some(current) = store::decidable(tx, merchant, id).await? else {
        return Ok(Err(Skip::NotFound));
    };
    let from = current.state;
    // Lifting the ban of someone who was never approved puts them back where they were (an
    // application still to decide, or a rejected one), not into the program.
    let restores = matches!(current.banned_from, Some(AffiliateState::Pending | AffiliateState::Rejected));
    let target = match (decision, from, current.banned_from) {
        (Decision::Enable, AffiliateState::Banned, Some(before)) if restores => before,
        _ => decision.target(),
    };
    if from == target {
        return Ok(Err(Skip::AlreadyInState(from)));
    }
    if !decision.applies_to(from) {
        return Ok(Err(Skip::NotAllowed { from, to: target }));
    }
    let verified = current.email_verified_at.is_some();
    if decision == Decision::Approve {
        // Nothing reaches Klaviyo for an address nobody confirmed.
        if !verified {
            return Ok(Err(Skip::Unverified));
        }
        let affiliate =
            Approvable { id, from, first_name: &current.first_name, has_code: current.referral_code.is_some() };
        let approved = approve_in(tx, merchant, affiliate, actor, now).await? != Approval::ChangedMeanwhile;
        return Ok(if approved { Ok(()) } else { Err(Skip::ChangedMeanwhile) });
    }
    if !store::set_state(tx, merchant, id, from, target, actor, now).await? {
        return Ok(Err(Skip::ChangedMeanwhile));
    }
    let action = if restores && decision == Decision::Enable { "ban lifted" } else { decision.done() };
    audit::record_noted(tx, merchant, actor, action, id, Some(from), Some(target), note, now).await?;
    match decision {
        Decision::Disable => {
            earnings_store::hold_for_disabled(tx, merchant, id, now).await?;
            outbox::sync(tx, merchant, id, now).await?;
            announce_standing(tx, merchant, id, Standing { decision, note, klaviyo: true }, now).await?;
        }
        Decision::Ban => {
            earnings_store::hold_for_disabled(tx, merchant, id, now).await?;
            store::ban(tx, merchant, id, note.unwrap_or_default(), actor, ban_address, now).await?;
            // Only a profile Rekomi wrote before leaves the list; a banned applicant never reached it.
            outbox::refresh_affiliate(tx, merchant, id, now).await?;
            // An unconfirmed applicant gets no event: Klaviyo never heard of them.
            let klaviyo = verified;
            announce_standing(tx, merchant, id, Standing { decision, note, klaviyo }, now).await?;
        }
        Decision::Enable if restores => store::lift_bans(tx, merchant, id).await?,
        Decision::Enable => {
            for line in earnings_store::release_disabled_holds(tx, merchant, id, now).await? {
                super::earnings::announce(tx, line, Some(Metric::CommissionApproved), None, now).await?;
            }
            store::lift_bans(tx, merchant, id).await?;
            outbox::sync(tx, merchant, id, now).await?;
            announce_standing(tx, merchant, id, Standing { decision, note, klaviyo: true }, now).await?;
        }
        Decision::Approve | Decision::Reject => {}
    }
    Ok(Ok(()))
}

/// A change of standing to announce; `klaviyo`: whether the person may hear of it through Klaviyo.
struct Standing<'a> {
    decision: Decision,
    note: Option<&'a str>,
    klaviyo: bool,
}

/// Queues what a disable or enable tells the outside: the `affiliate.disabled`/`affiliate.enabled`
/// webhook, and `Rekomi Affiliate Disabled` for the merchant's flows (re-enabling needs no event:
/// the list and the properties say it).
async fn announce_standing(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    how: Standing<'_>,
    now: i64,
) -> DbResult<()> {
    let Standing { decision, note, klaviyo } = how;
    let store::Announced { email, full_name, first_name, referral_code: code, campaign } =
        store::announced(tx, id).await?;
    let (metric, topic) = match decision {
        Decision::Disable => (Some(Metric::Disabled), Topic::AffiliateDisabled),
        Decision::Ban => (Some(Metric::Banned), Topic::AffiliateBanned),
        _ => (None, Topic::AffiliateEnabled),
    };
    if let Some(metric) = metric.filter(|_| klaviyo) {
        let mut properties = json!({ "campaign": campaign, "referral_code": code, "first_name": first_name });
        // A ban's reason is the merchant's own record, not something to mail the person.
        if let Some(note) = note.filter(|_| decision == Decision::Disable) {
            properties["reason"] = json!(note);
        }
        let unique = format!("{}:{id}:{now}", decision.done());
        outbox::lifecycle(tx, merchant, metric, &email, &unique, &properties, now).await?;
    }
    let mut data = json!({ "id": id, "email": email, "name": full_name, "campaign": campaign, "referral_code": code });
    if metric.is_some() {
        data["reason"] = json!(note);
    }
    let event_id = format!("evt_affiliate_{}_{id}_{now}", decision.done());
    outbox::webhook(tx, merchant, topic, &event_id, data, now).await
}

pub(crate) fn skip_reason(skip: &Skip) -> String {
    match skip {
        // Another merchant's id reads exactly like a missing one.
        Skip::NotFound => "not found".into(),
        Skip::AlreadyInState(state) => format!("already {}", state.as_str()),
        Skip::ChangedMeanwhile => "changed by someone else meanwhile; reload to see it".into(),
        Skip::NotAllowed { from, to } => {
            format!("{} affiliates can't be {}", from.label().to_lowercase(), to.as_str())
        }
        Skip::Unverified => "email not confirmed yet (confirm it by hand if you know it's theirs)".into(),
        Skip::AlreadyVerified => "email already confirmed".into(),
    }
}

/// Sets an affiliate's coupon and rate override in one transaction, with the audit entry and, when
/// the rate changed, `Rekomi Rate Changed`. `None` when the affiliate isn't the merchant's;
/// otherwise the rate before. `Conflict` on `affiliates_coupon_key` when another affiliate of the
/// merchant has the coupon (nothing is changed then).
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, affiliate.id = %id))]
pub async fn set_terms(
    db: &Db,
    merchant: MerchantId,
    id: AffiliateId,
    edit: TermsEdit<'_>,
    now: i64,
) -> DbResult<Option<RateTriple>> {
    let mut tx = db.begin().await?;
    if let Some(coupon) = edit.coupon {
        store::set_coupon(&mut tx, merchant, id, coupon).await?;
    }
    let Some(current) = store::current_rate(&mut tx, merchant, id).await? else {
        return Ok(None);
    };
    let before = current.triple();
    if let Some(rate) = edit.rate {
        // An expiry and a reason belong to an override: back on the campaign's rule, neither is kept.
        let overridden = rate.bps.is_some() || rate.minor.is_some();
        let after = (rate.bps, rate.minor, rate.expires_at.filter(|_| overridden));
        if after != before {
            let reason = rate.reason.as_deref().filter(|_| overridden);
            store::set_rate(&mut tx, merchant, id, after, reason).await?;
            audit::record(&mut tx, merchant, &rate.actor, "rate changed", id, None, None, now).await?;
            let currency = current.currency.as_str();
            let properties = json!({
                "campaign": current.campaign,
                "first_name": current.first_name,
                "rate": describe_rate(after.0, after.1, currency),
                "previous_rate": describe_rate(before.0, before.1, currency),
                "percent": after.0.map(|b| b as f64 / 100.0),
                "flat_amount": after.1.map(|m| crate::store::outbox::amount(m, currency)),
                "currency": currency,
                "expires_at": after.2.map(crate::store::outbox::rfc3339),
                "reason": reason,
            });
            let unique = format!("rate:{id}:{now}");
            outbox::lifecycle(&mut tx, merchant, Metric::RateChanged, &current.email, &unique, &properties, now)
                .await?;
            // `Rekomi commission` on their Klaviyo profile follows.
            outbox::refresh_affiliate(&mut tx, merchant, id, now).await?;
        }
    }
    tx.commit().await?;
    Ok(Some(before))
}

/// A rate as `Rekomi Rate Changed` names it.
fn describe_rate(bps: Option<i64>, minor: Option<i64>, currency: &str) -> String {
    match (bps, minor) {
        (Some(b), _) => format!("{} %", shared::domain::commission::bps_percent(b)),
        (None, Some(m)) => format!("{} {currency} per order", crate::store::outbox::amount(m, currency)),
        (None, None) => "campaign rate".to_owned(),
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
    let latest: HashMap<AffiliateId, SyncView> =
        sync_store::latest_for(db, merchant, &ids).await?.into_iter().map(|s| (s.affiliate_id, s)).collect();
    for item in &mut items {
        item.sync = latest.get(&item.id).cloned();
    }
    Ok(items)
}

/// One affiliate with its audit trail, syncs and the newest Klaviyo calls made for it.
pub async fn detail(db: &Db, merchant: MerchantId, id: AffiliateId) -> Result<AffiliateDetail, AffiliateError> {
    let row = store::by_ids(db, merchant, &[id]).await?.into_iter().next().ok_or(AffiliateError::UnknownAffiliate)?;
    let audit = store::audit_trail(db, merchant, id)
        .await?
        .into_iter()
        .map(|(actor, action, from_state, to_state, note, at)| AuditEntry {
            actor,
            action,
            from_state,
            to_state,
            note,
            at,
        })
        .collect();
    let syncs = sync_store::for_affiliate(db, merchant, id).await?;
    let log = sync_store::log_for(db, merchant, id, 200).await?;
    let mut affiliate = view(row);
    affiliate.sync = syncs.first().cloned();
    let affiliate = with_answers(db, merchant, vec![affiliate])
        .await?
        .into_iter()
        .next()
        .ok_or(AffiliateError::UnknownAffiliate)?;
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
        state: row.state,
        referral_code: row.referral_code,
        source: row.source,
        applied_at: row.applied_at,
        consent_terms_version: row.consent_terms_version,
        consent_at: row.consent_at,
        decided_at: row.decided_at,
        decided_by: row.decided_by,
        erased_at: row.erased_at,
        email_verified: row.email_verified_at.is_some(),
        sync: None,
        answers: Vec::new(),
    }
}

/// Adds each affiliate's answers to the campaign's own questions.
async fn with_answers(
    db: &Db,
    merchant: MerchantId,
    mut items: Vec<ApplicationView>,
) -> Result<Vec<ApplicationView>, AffiliateError> {
    let ids: Vec<AffiliateId> = items.iter().map(|a| a.id).collect();
    let mut by_affiliate: HashMap<AffiliateId, Vec<(String, String)>> = HashMap::new();
    for (id, label, answer) in crate::store::questions::answers_of(db, merchant, &ids).await? {
        by_affiliate.entry(id).or_default().push((label, answer));
    }
    for item in &mut items {
        item.answers = by_affiliate.remove(&item.id).unwrap_or_default();
    }
    Ok(items)
}
