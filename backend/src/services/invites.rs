//! Bulk invites: the merchant pastes people, sees every line checked, and sends. Each invite is a
//! signed, expiring, single-use link to the campaign's landing page, delivered by a Klaviyo event
//! (`Rekomi Affiliate Invited`) that the merchant's own flow turns into an email.
//!
//! The use cases that write (send, resend, revoke, accept) each own one transaction: the invite
//! rows through `store::invites`, the delivery event through `crate::outbox`, and on acceptance
//! the affiliate through `store::affiliates` and [`approve_in`].

use super::affiliates::{
    announce_application, approve_in, public_view, AffiliateError, ApplyOutcome, Approvable, Approval,
};
use super::campaigns::commission;
use crate::links::{InviteToken, LinkSigner};
use crate::outbox;
use crate::store::affiliates as affiliate_store;
use crate::store::audit::{self, ACTOR_APPLICANT, ACTOR_AUTO_APPROVE};
use crate::store::campaigns::{self as campaign_store, CampaignRow};
use crate::store::invites::{self as store, InviteRow, Issue, NewInvite};
use crate::store::{now_ms, Db, DbResult, Tx};
use anyhow::Context;
use serde_json::json;
use shared::domain::affiliate::Application;
use shared::domain::clock::format_utc;
use shared::domain::{AffiliateState, ApplicationForm, CampaignId, Email, ImportId, InviteId, MerchantId, PersonName};
use shared::error::{AppError, ErrorKind};
use shared::views::PublicCampaign;
use shared::views::{InvitePreview, InviteRequest, InviteRowCheck, InviteStatus, InviteView, InvitesSent};
use std::collections::HashMap;

/// Most people one bulk invite takes.
pub const MAX_INVITES: usize = 5_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
pub const DEFAULT_EXPIRY_DAYS: u16 = 14;
/// The Klaviyo metric whose flow emails an invite.
pub const INVITED_METRIC: &str = "Rekomi Affiliate Invited";

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("no such campaign")]
    UnknownCampaign,
    #[error("nothing to invite")]
    Empty,
    #[error("too many people")]
    TooMany(usize),
    #[error("bad expiry")]
    Expiry,
    #[error("no such invite")]
    UnknownInvite,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<InviteError> for AppError {
    fn from(value: InviteError) -> Self {
        match value {
            InviteError::UnknownCampaign => AppError::field("campaign", "Pick one of your campaigns."),
            InviteError::Empty => {
                AppError::field("people", "Paste at least one email address, one person a line (email, then name).")
            }
            InviteError::TooMany(n) => AppError::field(
                "people",
                format!("That is {n} people; invite at most {MAX_INVITES} at once (split the list)."),
            ),
            InviteError::Expiry => AppError::field("expires_days", "Links expire after 1 to 90 days."),
            InviteError::UnknownInvite => AppError::new(
                ErrorKind::NotFound,
                "That invite no longer exists, or it was already accepted or revoked.",
            ),
            InviteError::Internal(e) => super::internal(&e),
        }
    }
}

/// One person to invite through the API.
pub struct OneInvite<'a> {
    pub campaign: CampaignId,
    pub email: &'a Email,
    pub name: Option<&'a PersonName>,
    /// Days the link works.
    pub expires_days: u16,
}

/// What inviting one person came to.
pub enum OneOutcome {
    Invited(InviteView),
    /// An invite to this email is still open (maybe for another campaign): returned as it is.
    Open(InviteView),
    /// The email already belongs to an affiliate in this state.
    AlreadyAffiliate(String),
    /// Another request got there first; why.
    Refused(String),
}

/// What the invite service needs besides the database: the link signer and the public address.
#[derive(Clone)]
pub struct Invites {
    pub signer: LinkSigner,
    /// `https://affiliates.example.com`: links in emails must be absolute.
    pub public_base: String,
}

/// One line of pasted text: `(line, email, name)`, both raw.
fn split_line(line: &str) -> Option<(String, String)> {
    let line = line.trim().trim_matches(|c| c == '"');
    if line.is_empty() {
        return None;
    }
    // "Ana Berg <ana@example.com>"
    if let (Some(open), true) = (line.rfind('<'), line.ends_with('>')) {
        let email = line[open + 1..line.len() - 1].trim().to_owned();
        let name = line[..open].trim().trim_matches(|c| c == '"' || c == ',').trim().to_owned();
        return Some((email, name));
    }
    let parts: Vec<&str> =
        line.split(['\t', ',', ';']).map(|p| p.trim().trim_matches('"').trim()).filter(|p| !p.is_empty()).collect();
    let at = parts.iter().position(|p| p.contains('@'));
    match at {
        Some(i) => {
            let name = parts.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| *p).collect::<Vec<_>>().join(" ");
            Some((parts[i].to_owned(), name))
        }
        // A line of separators only ("," or ";;") has no parts: it is skipped like a blank line.
        None => {
            let (first, rest) = parts.split_first()?;
            Some(((*first).to_owned(), rest.join(" ")))
        }
    }
}

/// True for a header line a spreadsheet paste brings along ("email, name").
fn is_header(email: &str) -> bool {
    !email.contains('@') && email.to_lowercase().contains("email")
}

/// Parsed lines, each valid or with its problem; the valid ones as invites.
fn parse_people(text: &str) -> (Vec<InviteRowCheck>, Vec<(usize, NewInvite)>) {
    let mut checks = Vec::new();
    let mut ready = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let Some((email_raw, name_raw)) = split_line(raw) else { continue };
        if checks.is_empty() && ready.is_empty() && is_header(&email_raw) {
            continue;
        }
        let mut check = InviteRowCheck { line, email: email_raw.clone(), name: None, problem: None };
        let email = Email::parse(&email_raw);
        let name = if name_raw.is_empty() { Ok(None) } else { PersonName::parse(&name_raw).map(Some) };
        match (email, name) {
            (Err(e), _) => check.problem = Some(e.to_string()),
            (_, Err(e)) => {
                check.name = Some(name_raw.clone());
                check.problem = Some(format!("Name: {e}"));
            }
            (Ok(email), Ok(name)) => {
                check.email = email.as_str().to_owned();
                check.name = name.as_ref().map(|n| n.full().to_owned());
                if let Some(first) = seen.get(email.as_str()) {
                    check.problem = Some(format!("Duplicate of line {first}."));
                } else {
                    seen.insert(email.as_str().to_owned(), line);
                    ready.push((
                        checks.len(),
                        NewInvite {
                            email: email.as_str().to_owned(),
                            full_name: name.map(|n| n.full().to_owned()),
                            affiliate_id: None,
                            campaign: None,
                        },
                    ));
                }
            }
        }
        checks.push(check);
    }
    (checks, ready)
}

impl Invites {
    pub(crate) fn link(
        &self,
        merchant_slug: &str,
        campaign_slug: &str,
        id: i64,
        expires_at: i64,
        nonce: &str,
    ) -> String {
        let token = self.signer.sign(&InviteToken { invite_id: id, expires_at, nonce: nonce.to_owned() });
        format!("{}{}?invite={token}", self.public_base, super::campaigns::landing_path(merchant_slug, campaign_slug))
    }

    /// The event's properties: what the merchant's flow email needs.
    pub(crate) fn properties(
        campaign: &CampaignRow,
        invite: &NewInvite,
        link: &str,
        expires_at: i64,
    ) -> serde_json::Value {
        let first_name =
            invite.full_name.as_deref().and_then(|n| PersonName::parse(n).ok()).map(|n| n.first().to_owned());
        let mut props = json!({
            "invite_url": link,
            "campaign": campaign.name,
            "merchant": campaign.merchant_name,
            "commission": commission(campaign).map(|c| c.describe()).unwrap_or_default(),
            "expires_at": format_utc(expires_at),
            "reason": if invite.affiliate_id.is_some() { "accept_terms" } else { "join" },
        });
        if let (Some(map), Some(name)) = (props.as_object_mut(), invite.full_name.as_ref()) {
            map.insert("invitee_name".into(), json!(name));
            if let Some(first) = first_name {
                map.insert("invitee_first_name".into(), json!(first));
            }
        }
        props
    }

    async fn campaign(db: &Db, merchant: MerchantId, id: CampaignId) -> Result<CampaignRow, InviteError> {
        campaign_store::get(db, merchant, id).await.context("loading the campaign")?.ok_or(InviteError::UnknownCampaign)
    }

    /// Checks every line against the form rules, the list itself, the merchant's affiliates and
    /// invites still open. Nothing is sent.
    pub async fn preview(
        &self,
        db: &Db,
        merchant: MerchantId,
        request: &InviteRequest,
    ) -> Result<InvitePreview, InviteError> {
        Self::campaign(db, merchant, request.campaign).await?;
        let (mut rows, ready) = parse_people(&request.people);
        if rows.is_empty() {
            return Err(InviteError::Empty);
        }
        if rows.len() > MAX_INVITES {
            return Err(InviteError::TooMany(rows.len()));
        }
        let emails: Vec<String> = ready.iter().map(|(_, i)| i.email.clone()).collect();
        let (affiliates, invites) = store::known(db, merchant, &emails, now_ms()).await.context("checking emails")?;
        for (index, invite) in &ready {
            if let Some(state) = affiliates.get(&invite.email) {
                rows[*index].problem = Some(format!("Already an affiliate ({}).", state.as_str()));
            } else if let Some(sent) = invites.get(&invite.email) {
                rows[*index].problem = Some(format!(
                    "Already invited on {}; resend that invite from the list instead.",
                    format_utc(*sent)
                ));
            }
        }
        let problems = rows.iter().filter(|r| r.problem.is_some()).count() as u64;
        let klaviyo_connected =
            crate::store::klaviyo::get(db, merchant).await.context("reading the connection")?.is_some();
        Ok(InvitePreview { ready: rows.len() as u64 - problems, problems, rows, klaviyo_connected })
    }

    /// Creates the invites of every valid line in one transaction, with their Klaviyo events.
    pub async fn send(
        &self,
        db: &Db,
        merchant: MerchantId,
        actor: &str,
        request: &InviteRequest,
    ) -> Result<InvitesSent, InviteError> {
        if !(1..=90).contains(&request.expires_days) {
            return Err(InviteError::Expiry);
        }
        let preview = self.preview(db, merchant, request).await?;
        let campaign = Self::campaign(db, merchant, request.campaign).await?;
        let mut skipped: Vec<InviteRowCheck> = preview.rows.iter().filter(|r| r.problem.is_some()).cloned().collect();
        let ready: Vec<(u64, NewInvite)> = preview
            .rows
            .iter()
            .filter(|r| r.problem.is_none())
            .map(|r| {
                (
                    r.line,
                    NewInvite { email: r.email.clone(), full_name: r.name.clone(), affiliate_id: None, campaign: None },
                )
            })
            .collect();
        let now = now_ms();
        let expires_at = now + i64::from(request.expires_days) * DAY_MS;
        let link = |_: CampaignId, id: i64, expires: i64, nonce: &str| {
            self.link(&campaign.merchant_slug, &campaign.slug, id, expires, nonce)
        };
        let properties =
            |_: CampaignId, invite: &NewInvite, link: &str| Self::properties(&campaign, invite, link, expires_at);
        let issue =
            Issue { merchant, campaign: campaign.id, expires_at, now, actor, link: &link, properties: &properties };
        let invites: Vec<NewInvite> = ready.iter().map(|(_, i)| i.clone()).collect();
        let (results, connected) = create(db, &issue, &invites).await.context("creating invites")?;
        let results: Vec<_> = results.into_iter().zip(ready).collect();
        let mut sent = 0;
        for (result, (line, invite)) in results {
            match result {
                Ok(_) => sent += 1,
                Err(problem) => skipped.push(InviteRowCheck {
                    line,
                    email: invite.email,
                    name: invite.full_name,
                    problem: Some(problem),
                }),
            }
        }
        skipped.sort_by_key(|r| r.line);
        tracing::info!(merchant.id = %merchant, sent, skipped = skipped.len(), "invites created");
        Ok(InvitesSent { sent, skipped, klaviyo_connected: connected })
    }

    /// One invite by email (the REST API, called from Klaviyo flows). An invite still open for the
    /// email is returned as it is, so a flow firing twice invites once.
    pub async fn invite_one(
        &self,
        db: &Db,
        merchant: MerchantId,
        actor: &str,
        one: OneInvite<'_>,
    ) -> Result<OneOutcome, InviteError> {
        let OneInvite { campaign, email, name, expires_days } = one;
        let (affiliates, _) =
            store::known(db, merchant, &[email.as_str().to_owned()], now_ms()).await.context("checking the email")?;
        if let Some(state) = affiliates.get(email.as_str()) {
            return Ok(OneOutcome::AlreadyAffiliate(state.as_str().to_owned()));
        }
        if let Some(row) = store::latest_for(db, merchant, email.as_str()).await.context("reading invites")? {
            let view = self.view(row, now_ms());
            if view.status.live() {
                return Ok(OneOutcome::Open(view));
            }
        }
        let people = match name {
            Some(n) => format!("{} <{}>", n.full(), email.as_str()),
            None => email.as_str().to_owned(),
        };
        let request = InviteRequest { campaign, people, expires_days };
        let sent = self.send(db, merchant, actor, &request).await?;
        if let Some(skipped) = sent.skipped.first() {
            // Someone invited or approved in the same instant.
            return Ok(OneOutcome::Refused(skipped.problem.clone().unwrap_or_default()));
        }
        let row = store::latest_for(db, merchant, email.as_str())
            .await
            .context("reading the new invite")?
            .context("the new invite is missing")?;
        Ok(OneOutcome::Invited(self.view(row, now_ms())))
    }

    pub async fn list(&self, db: &Db, merchant: MerchantId) -> Result<Vec<InviteView>, InviteError> {
        let rows = store::list(db, merchant, 1_000).await.context("listing invites")?;
        let now = now_ms();
        Ok(rows.into_iter().map(|r| self.view(r, now)).collect())
    }

    fn view(&self, row: InviteRow, now: i64) -> InviteView {
        let status = status(&row, now);
        let link = status
            .live()
            .then(|| self.link(&row.merchant_slug, &row.campaign_slug, row.id.get(), row.expires_at, &row.nonce));
        let (delivery, delivery_note) = match row.delivery {
            Some(state) => (state.as_str().to_owned(), row.delivery_reason.clone()),
            None => (
                "none".to_owned(),
                Some("Klaviyo was not connected when this was sent: copy the link and share it.".to_owned()),
            ),
        };
        InviteView {
            id: row.id.get(),
            campaign_id: row.campaign_id,
            campaign_name: row.campaign_name,
            email: row.email,
            full_name: row.full_name,
            status,
            link,
            source: row.source,
            sends: row.sends,
            sent_at: row.sent_at,
            expires_at: row.expires_at,
            opened_at: row.opened_at,
            accepted_at: row.accepted_at,
            delivery,
            delivery_note,
        }
    }

    /// A fresh link (the old one stops working) and the event again, for another email.
    pub async fn resend(&self, db: &Db, merchant: MerchantId, actor: &str, id: i64) -> Result<InviteView, InviteError> {
        let id = InviteId(id);
        let row = store::get(db, id).await.context("loading the invite")?;
        let row = row.filter(|r| r.merchant_id == merchant).ok_or(InviteError::UnknownInvite)?;
        let campaign = Self::campaign(db, merchant, row.campaign_id).await?;
        let now = now_ms();
        // The same validity the invite had at first, from now.
        let expires_at = now + (row.expires_at - row.sent_at).clamp(DAY_MS, 90 * DAY_MS);
        let link = |_: CampaignId, id: i64, expires: i64, nonce: &str| {
            self.link(&campaign.merchant_slug, &campaign.slug, id, expires, nonce)
        };
        let properties =
            |_: CampaignId, invite: &NewInvite, link: &str| Self::properties(&campaign, invite, link, expires_at);
        let issue =
            Issue { merchant, campaign: campaign.id, expires_at, now, actor, link: &link, properties: &properties };
        let resent = renew(db, &issue, id).await.context("resending")?;
        if resent.is_none() {
            return Err(InviteError::UnknownInvite);
        }
        let row = store::get(db, id).await.context("reloading the invite")?.ok_or(InviteError::UnknownInvite)?;
        Ok(self.view(row, now))
    }

    pub async fn revoke(&self, db: &Db, merchant: MerchantId, id: i64) -> Result<InviteView, InviteError> {
        let (id, now) = (InviteId(id), now_ms());
        if !revoke(db, merchant, id, now).await.context("revoking")? {
            return Err(InviteError::UnknownInvite);
        }
        let row = store::get(db, id).await.context("reloading the invite")?.ok_or(InviteError::UnknownInvite)?;
        Ok(self.view(row, now))
    }

    /// The invite behind a link on `/join/{merchant}/{campaign}`, checked: signature, that it is
    /// for this campaign, not expired, revoked, used or replaced by a resend.
    pub async fn open(
        &self,
        db: &Db,
        merchant_slug: &str,
        campaign_slug: &str,
        token: &str,
    ) -> Result<(InviteRow, CampaignRow, PublicCampaign), LinkProblem> {
        let token = self.signer.verify(token).ok_or(LinkProblem::Invalid)?;
        let row = store::get(db, InviteId(token.invite_id)).await.map_err(|e| LinkProblem::Internal(e.into()))?;
        let row = row.filter(|r| r.merchant_slug == merchant_slug && r.campaign_slug == campaign_slug);
        let row = row.ok_or(LinkProblem::Invalid)?;
        let now = now_ms();
        if row.revoked_at.is_some() {
            return Err(LinkProblem::Revoked { merchant_name: row.merchant_name });
        }
        if row.accepted_at.is_some() {
            return Err(LinkProblem::Used { merchant_name: row.merchant_name });
        }
        if row.nonce != token.nonce {
            return Err(LinkProblem::Replaced { merchant_name: row.merchant_name });
        }
        if token.expires_at <= now || row.expires_at <= now {
            return Err(LinkProblem::Expired { merchant_name: row.merchant_name });
        }
        let campaign = campaign_store::get(db, row.merchant_id, row.campaign_id)
            .await
            .map_err(|e| LinkProblem::Internal(e.into()))?
            .ok_or(LinkProblem::Invalid)?;
        let public = public_view(&campaign).map_err(LinkProblem::Internal)?;
        Ok((row, campaign, public))
    }

    /// Marks a valid invite opened (the first time its page is shown).
    pub async fn mark_opened(&self, db: &Db, invite: &InviteRow) {
        if invite.opened_at.is_none() {
            if let Err(error) = store::mark_opened(db, invite.id, now_ms()).await {
                tracing::warn!(%error, "could not record an opened invite");
            }
        }
    }

    /// Accepts an invite with its form: the email is the invite's, whatever was posted; the terms
    /// must be accepted (that is the consent). Public applications being closed does not matter:
    /// the merchant asked this person.
    pub async fn accept(
        &self,
        db: &Db,
        invite: &InviteRow,
        campaign: &CampaignRow,
        form: &ApplicationForm,
    ) -> Result<ApplyOutcome, AcceptProblem> {
        let shown_version = form.terms_version.trim().parse::<i64>().ok();
        let form = ApplicationForm { email: invite.email.clone(), ..form.clone() };
        if shown_version.is_some_and(|v| v != campaign.terms_version) {
            let mut errors = form.parse().err().unwrap_or_default();
            errors.add(
                "accept_terms",
                "The program terms changed while you were reading. Please read the new terms and accept them.",
            );
            return Err(AcceptProblem::Form(AffiliateError::Invalid(errors)));
        }
        let application = form.parse().map_err(|e| AcceptProblem::Form(AffiliateError::Invalid(e)))?;
        let accepted = accept_invite(db, invite, campaign, &application, now_ms())
            .await
            .map_err(|e| AcceptProblem::Form(AffiliateError::Internal(e.into())))?;
        let first_name = application.name.first().to_owned();
        use AffiliateState::Approved;
        Ok(match accepted {
            Accepted::Gone => return Err(AcceptProblem::Gone { merchant_name: campaign.merchant_name.clone() }),
            Accepted::Created { state: Approved, referral_code: Some(referral_code) }
            | Accepted::Existing { state: Approved, referral_code: Some(referral_code) } => {
                ApplyOutcome::Approved { first_name, referral_code }
            }
            Accepted::Existing {
                state: AffiliateState::Rejected | AffiliateState::Disabled | AffiliateState::Banned,
                ..
            }
            | Accepted::OtherProgram => ApplyOutcome::AlreadyApplied,
            Accepted::Created { .. } | Accepted::Existing { .. } => ApplyOutcome::Received { first_name },
        })
    }
}

/// Why an invite link can't be used, in the words its page shows.
#[derive(Debug, thiserror::Error)]
pub enum LinkProblem {
    #[error("This invite link is not valid. Check that you copied all of it.")]
    Invalid,
    #[error("This invite has expired. Ask {merchant_name} for a new one.")]
    Expired { merchant_name: String },
    #[error("This invite was withdrawn by {merchant_name}.")]
    Revoked { merchant_name: String },
    #[error("This invite was already used. If that was you, you're all set.")]
    Used { merchant_name: String },
    #[error("A newer invite was sent to you; use the link in the latest email from {merchant_name}.")]
    Replaced { merchant_name: String },
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// Creates invites in one transaction, re-checking each email there (another request may have
/// invited or added it meanwhile). Returns, per invite, its id or why it was skipped, and whether
/// Klaviyo events were queued.
async fn create(db: &Db, issue: &Issue<'_>, invites: &[NewInvite]) -> DbResult<(Vec<Result<InviteId, String>>, bool)> {
    let mut tx = db.begin().await?;
    store::lock_merchant(&mut tx, issue.merchant).await?;
    let connected = store::klaviyo_connected(&mut tx, issue.merchant).await?;
    let mut results = Vec::with_capacity(invites.len());
    for invite in invites {
        let taken = store::taken(&mut tx, issue.merchant, &invite.email, issue.now).await?;
        results.push(if let Some(state) = taken.affiliate {
            Err(format!("Already an affiliate ({}).", state.as_str()))
        } else if taken.live_invite.is_some() {
            Err("Already invited; resend that invite from the list instead.".to_owned())
        } else {
            Ok(issue_in(&mut tx, issue, invite, "bulk", None, connected).await?)
        });
    }
    tx.commit().await?;
    Ok((results, connected))
}

/// Inserts one invite in the caller's transaction and, when Klaviyo is `connected`, queues the
/// event that delivers it. `source` is how it came (`bulk`, `import`); an import's invites name it.
pub async fn issue_in(
    tx: &mut Tx,
    issue: &Issue<'_>,
    invite: &NewInvite,
    source: &str,
    import: Option<ImportId>,
    connected: bool,
) -> DbResult<InviteId> {
    let nonce = crate::links::nonce();
    let campaign = invite.campaign.unwrap_or(issue.campaign);
    let id = store::insert(tx, issue, campaign, invite, source, import, &nonce).await?;
    if connected {
        queue_delivery(tx, issue, campaign, id, &nonce, invite, 1).await?;
    }
    Ok(id)
}

/// Queues `Rekomi Affiliate Invited` for the `sends`-th sending of an invite, with its link.
#[expect(clippy::too_many_arguments, reason = "what the link and the event are made of")]
async fn queue_delivery(
    tx: &mut Tx,
    issue: &Issue<'_>,
    campaign: CampaignId,
    id: InviteId,
    nonce: &str,
    invite: &NewInvite,
    sends: i64,
) -> DbResult<()> {
    let link = (issue.link)(campaign, id.get(), issue.expires_at, nonce);
    let properties = (issue.properties)(campaign, invite, &link).to_string();
    let unique = format!("invite:{id}:{sends}");
    outbox::event(tx, issue.merchant, INVITED_METRIC, &invite.email, &unique, &properties, Some(id.get()), issue.now)
        .await
}

/// A new link (nonce and expiry) for a live invite, and its delivery event again. `None` when the
/// invite is not the merchant's, or was accepted or revoked; otherwise how often it was sent.
async fn renew(db: &Db, issue: &Issue<'_>, id: InviteId) -> DbResult<Option<i64>> {
    let nonce = crate::links::nonce();
    let mut tx = db.begin().await?;
    let Some(renewed) = store::renew(&mut tx, issue.merchant, id, &nonce, issue.expires_at, issue.now).await? else {
        return Ok(None);
    };
    let sends = renewed.sends;
    if store::klaviyo_connected(&mut tx, issue.merchant).await? {
        let store::Renewed { email, full_name, affiliate_id, .. } = renewed;
        let invite = NewInvite { email, full_name, affiliate_id, campaign: None };
        queue_delivery(&mut tx, issue, issue.campaign, id, &nonce, &invite, sends).await?;
    }
    tx.commit().await?;
    Ok(Some(sends))
}

/// Revokes a live invite; its link stops working at once. False when there was nothing to revoke.
async fn revoke(db: &Db, merchant: MerchantId, id: InviteId, now: i64) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    let revoked = store::revoke(&mut tx, merchant, id, now).await?;
    // An event not sent yet must not deliver a dead link.
    store::fail_unsent_events(&mut tx, merchant, id, now).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// What accepting an invite came to.
enum Accepted {
    /// A new affiliate, approved at once when the campaign auto-approves.
    Created { state: AffiliateState, referral_code: Option<String> },
    /// An affiliate the merchant already had (imported, or applied meanwhile): the consent is
    /// recorded if it was missing, and an approved one is queued for Klaviyo.
    Existing { state: AffiliateState, referral_code: Option<String> },
    /// The invite was used, revoked, resent or expired in the meantime.
    Gone,
    /// The email already belongs to an affiliate of another of the merchant's programs: the invite
    /// is used up, and no consent to this program's terms is recorded for them.
    OtherProgram,
}

/// Accepts an invite in one transaction: the invite is marked accepted (once, and only with the
/// nonce it was shown with), and the affiliate created, or the existing one given the consent it
/// lacked.
async fn accept_invite(
    db: &Db,
    invite: &InviteRow,
    campaign: &CampaignRow,
    application: &Application,
    now: i64,
) -> DbResult<Accepted> {
    let merchant = campaign.merchant_id;
    let mut tx = db.begin().await?;
    if !store::accept(&mut tx, merchant, invite.id, &invite.nonce, now).await? {
        return Ok(Accepted::Gone);
    }
    let inserted = affiliate_store::insert_applicant(
        &mut tx,
        merchant,
        campaign.id,
        application,
        campaign.terms_version,
        "invite",
        // The invite went to this address: opening it proved the address.
        Some(now),
        now,
    )
    .await?;
    let Some(id) = inserted else {
        // The merchant already has this email (imported, or applied, maybe a moment ago).
        let existing = affiliate_store::existing(&mut tx, merchant, application.email.as_str()).await?;
        if existing.campaign_id != campaign.id {
            tx.commit().await?;
            return Ok(Accepted::OtherProgram);
        }
        if crate::store::verifications::mark_verified(&mut tx, merchant, existing.id, now).await? {
            audit::record(&mut tx, merchant, ACTOR_APPLICANT, "email verified by invite", existing.id, None, None, now)
                .await?;
            // Their application was held back from Klaviyo until now.
            if existing.state == AffiliateState::Pending {
                announce_application(&mut tx, merchant, existing.id, "form", now).await?;
            }
        }
        if existing.consent_at.is_none() && existing.state.takes_invite_consent() {
            affiliate_store::record_invite_consent(&mut tx, merchant, existing.id, campaign.terms_version, now).await?;
            audit::record(&mut tx, merchant, ACTOR_APPLICANT, "accepted terms", existing.id, None, None, now).await?;
            if existing.state == AffiliateState::Approved {
                outbox::sync(&mut tx, merchant, existing.id, now).await?;
            }
        }
        tx.commit().await?;
        return Ok(Accepted::Existing { state: existing.state, referral_code: existing.referral_code });
    };
    store::set_affiliate(&mut tx, invite.id, id).await?;
    let pending = Some(AffiliateState::Pending);
    audit::record(&mut tx, merchant, ACTOR_APPLICANT, "accepted invite", id, None, pending, now).await?;
    announce_application(&mut tx, merchant, id, "invite", now).await?;
    let accepted = if campaign.auto_approve {
        let applicant =
            Approvable { id, from: AffiliateState::Pending, first_name: application.name.first(), has_code: false };
        let referral_code = match approve_in(&mut tx, merchant, applicant, ACTOR_AUTO_APPROVE, now).await? {
            Approval::Approved { new_code } => new_code,
            Approval::ChangedMeanwhile => None,
        };
        Accepted::Created { state: AffiliateState::Approved, referral_code }
    } else {
        Accepted::Created { state: AffiliateState::Pending, referral_code: None }
    };
    tx.commit().await?;
    Ok(accepted)
}

pub enum AcceptProblem {
    /// The form needs fixing, or something broke.
    Form(AffiliateError),
    /// The invite was used, revoked or replaced between showing the form and posting it.
    Gone { merchant_name: String },
}

/// Derived from the timestamps, so "expired" needs no background job.
fn status(row: &InviteRow, now: i64) -> InviteStatus {
    if row.accepted_at.is_some() {
        InviteStatus::Accepted
    } else if row.revoked_at.is_some() {
        InviteStatus::Revoked
    } else if row.expires_at <= now {
        InviteStatus::Expired
    } else if row.opened_at.is_some() {
        InviteStatus::Opened
    } else {
        InviteStatus::Sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_read_in_the_shapes_merchants_paste() {
        let text = "Email,Name\nana@example.com, Ana Berg\nBo Li <BO@example.com>\n\"Cy Ode\"\tcy@example.com\n\nnope\nana@example.com\n,\n;;\n";
        let (rows, ready) = parse_people(text);
        let emails: Vec<&str> = ready.iter().map(|(_, i)| i.email.as_str()).collect();
        assert_eq!(emails, vec!["ana@example.com", "bo@example.com", "cy@example.com"]);
        assert_eq!(ready[0].1.full_name.as_deref(), Some("Ana Berg"));
        assert_eq!(ready[2].1.full_name.as_deref(), Some("Cy Ode"));
        let problems: Vec<(u64, &str)> =
            rows.iter().filter_map(|r| r.problem.as_deref().map(|p| (r.line, p))).collect();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].0, 6);
        assert_eq!(problems[1], (7, "Duplicate of line 2."));
    }
}
