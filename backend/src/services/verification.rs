//! Applicants from the public form confirm their email before anything about them reaches Klaviyo:
//! a single-use link goes out as `Rekomi Affiliate Verify Email` (the merchant's flow emails it), and
//! opening it (or the merchant confirming the address by hand) announces the application and lets
//! an auto-approve campaign approve. Until then: no subscribe, no list, no other event.

use super::accounts::{new_token, token_hash};
use super::affiliates::{announce_application, approve_in, AffiliateError, Approvable, Approval, Skip};
use crate::outbox;
use crate::store::affiliates as affiliate_store;
use crate::store::audit::{self, ACTOR_APPLICANT, ACTOR_AUTO_APPROVE};
use crate::store::campaigns::CampaignRow;
use crate::store::verifications as store;
use crate::store::{now_ms, Db, DbResult, Tx};
use serde_json::json;
use shared::domain::clock::format_utc;
use shared::domain::lifecycle::Metric;
use shared::domain::{AffiliateId, AffiliateState, MerchantId};

/// How long a link works: long enough for a flow with a delay and a weekend.
pub const LINK_HOURS: i64 = 72;
/// Links one address can be sent in 24 hours (applying again asks for a new one), so the form can't
/// be used to flood someone's inbox.
pub const LINKS_PER_DAY: i64 = 3;

/// Where links to a campaign's landing page point.
pub struct Link<'a> {
    pub campaign: &'a CampaignRow,
    pub public_base: &'a str,
}

impl Link<'_> {
    /// Queues a link for the applicant unless they had [`LINKS_PER_DAY`] already; whether one was.
    pub async fn send(
        &self,
        tx: &mut Tx,
        affiliate: AffiliateId,
        email: &str,
        first_name: &str,
        now: i64,
    ) -> DbResult<bool> {
        if store::sent_since(tx, affiliate, now - 86_400_000).await? >= LINKS_PER_DAY {
            tracing::info!("verification link not sent again: the daily limit for this address is reached");
            return Ok(false);
        }
        let c = self.campaign;
        let token = new_token();
        let hash = token_hash(&token);
        let expires_at = now + LINK_HOURS * 3_600_000;
        store::insert(tx, c.merchant_id, affiliate, &hash, expires_at, now).await?;
        let url = format!("{}{}?token={token}", self.public_base, verify_path(&c.merchant_slug, &c.slug));
        let properties = json!({
            "verify_url": url,
            "campaign": c.name,
            "merchant": c.merchant_name,
            "first_name": first_name,
            "expires_at": format_utc(expires_at),
            "expires_in_hours": LINK_HOURS,
        });
        let unique_id = format!("verify:{}", &hash[..24]);
        outbox::lifecycle(tx, c.merchant_id, Metric::VerifyEmail, email, &unique_id, &properties, now).await?;
        Ok(true)
    }
}

pub fn verify_path(merchant_slug: &str, campaign_slug: &str) -> String {
    format!("/join/{merchant_slug}/{campaign_slug}/verify")
}

/// What confirming an address came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Confirmed; the merchant reviews the application.
    Verified { first_name: String },
    /// Confirmed, and the campaign approved them at once.
    Approved { first_name: String, referral_code: String },
    /// It had been confirmed before (another of their links, or by the merchant).
    Already { first_name: String },
    /// Unknown, used or expired, or not this campaign's merchant.
    Invalid,
}

/// An applicant opened their link (and pressed the button: a mail scanner's GET uses nothing up).
#[tracing::instrument(skip_all, fields(campaign.id = %campaign.id))]
pub async fn confirm(db: &Db, campaign: &CampaignRow, token: &str) -> Result<Confirmed, AffiliateError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let Some(used) = store::use_link(&mut tx, campaign.id, &token_hash(token.trim()), now).await? else {
        return Ok(Confirmed::Invalid);
    };
    let outcome = verified_in(&mut tx, used.merchant_id, used.affiliate_id, ACTOR_APPLICANT, now).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Records the confirmed address and what it unlocks, in the caller's transaction: the audit entry,
/// `Rekomi Affiliate Applied` for an application still pending, and an auto-approve campaign's
/// approval (which queues the Klaviyo sync).
pub(crate) async fn verified_in(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    actor: &str,
    now: i64,
) -> DbResult<Confirmed> {
    let newly = store::mark_verified(tx, merchant, id, now).await?;
    let found = store::after_verify(tx, merchant, id).await?;
    let first_name = found.first_name.clone();
    if !newly {
        return Ok(Confirmed::Already { first_name });
    }
    let action = if actor == ACTOR_APPLICANT { "email verified" } else { "email verified by hand" };
    audit::record(tx, merchant, actor, action, id, None, None, now).await?;
    // A rejected or banned applicant stays decided: nothing to announce.
    if found.state != AffiliateState::Pending {
        return Ok(Confirmed::Verified { first_name });
    }
    announce_application(tx, merchant, id, "form", now).await?;
    if !found.auto_approve {
        return Ok(Confirmed::Verified { first_name });
    }
    let applicant = Approvable {
        id,
        from: AffiliateState::Pending,
        first_name: &found.first_name,
        has_code: found.referral_code.is_some(),
    };
    Ok(match approve_in(tx, merchant, applicant, ACTOR_AUTO_APPROVE, now).await? {
        Approval::Approved { new_code } => match new_code.or(found.referral_code) {
            Some(referral_code) => Confirmed::Approved { first_name, referral_code },
            None => Confirmed::Verified { first_name },
        },
        Approval::ChangedMeanwhile => Confirmed::Verified { first_name },
    })
}

/// The merchant confirms applicants' addresses themselves (they know the person, or Klaviyo isn't
/// connected to carry the link). Returns the ids confirmed and why the others were left alone.
pub async fn by_hand(
    db: &Db,
    merchant: MerchantId,
    actor: &str,
    ids: &[AffiliateId],
) -> Result<(Vec<AffiliateId>, Vec<(AffiliateId, Skip)>), AffiliateError> {
    if ids.len() > super::affiliates::MAX_BULK_DECISION {
        return Err(AffiliateError::TooMany);
    }
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    let now = now_ms();
    let (mut changed, mut skipped) = (Vec::new(), Vec::new());
    let mut tx = db.begin().await?;
    for id in unique {
        match affiliate_store::decidable(&mut tx, merchant, id).await? {
            None => skipped.push((id, Skip::NotFound)),
            Some(found) if found.email_verified_at.is_some() => skipped.push((id, Skip::AlreadyVerified)),
            Some(_) => match verified_in(&mut tx, merchant, id, actor, now).await? {
                Confirmed::Already { .. } | Confirmed::Invalid => skipped.push((id, Skip::AlreadyVerified)),
                Confirmed::Verified { .. } | Confirmed::Approved { .. } => changed.push(id),
            },
        }
    }
    tx.commit().await?;
    Ok((changed, skipped))
}
