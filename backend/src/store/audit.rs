//! The audit log: who changed what about an affiliate, and when.

use super::{DbResult, Tx};
use shared::domain::{AffiliateId, AffiliateState, MerchantId};

/// Who a decision is recorded against when no merchant user made it.
pub const ACTOR_APPLICANT: &str = "applicant";
pub const ACTOR_AUTO_APPROVE: &str = "auto-approve";

/// One entry in the caller's transaction. `action` says what happened ("approved", "rate
/// changed"); the states are set when the affiliate's state moved.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn record(
    tx: &mut Tx,
    merchant: MerchantId,
    actor: &str,
    action: &str,
    affiliate: AffiliateId,
    from: Option<AffiliateState>,
    to: Option<AffiliateState>,
    now: i64,
) -> DbResult<()> {
    record_noted(tx, merchant, actor, action, affiliate, from, to, None, now).await
}

/// [`record`] with the merchant's reason for it ("why").
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn record_noted(
    tx: &mut Tx,
    merchant: MerchantId,
    actor: &str,
    action: &str,
    affiliate: AffiliateId,
    from: Option<AffiliateState>,
    to: Option<AffiliateState>,
    note: Option<&str>,
    now: i64,
) -> DbResult<()> {
    tx.query(
        "INSERT INTO audit_log (merchant_id, actor, action, affiliate_id, from_state, to_state, note, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(merchant)
    .bind(actor)
    .bind(action)
    .bind(affiliate)
    .bind(from)
    .bind(to)
    .bind(note)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}
