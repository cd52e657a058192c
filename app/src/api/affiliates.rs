//! The approval queue.

use crate::api::views::{ApplicationView, DecisionOutcome, QueueFilter, QueuePage};
use crate::domain::affiliate::Decision;
use crate::domain::AffiliateId;
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "approval_queue", input = server_fn::codec::Json)]
pub async fn approval_queue(filter: QueueFilter) -> Result<QueuePage, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(affiliates::queue(&s.db, who.merchant(), &filter).await?)
        }
        .await,
    )
}

/// The affiliates directory: every affiliate with their figures, filtered, sorted and paged.
#[server(prefix = "/api", endpoint = "affiliate_directory", input = server_fn::codec::Json)]
pub async fn affiliate_directory(
    filter: crate::api::views::DirectoryFilter,
) -> Result<crate::api::views::DirectoryPage, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(affiliates::directory(&s.db, who.merchant(), &filter).await?)
        }
        .await,
    )
}

/// Approves, rejects, disables or enables one or many affiliates at once; `note` (why) goes into
/// the audit log and, for a disable, the event and webhook.
#[server(prefix = "/api", endpoint = "decide_applications", input = server_fn::codec::Json)]
pub async fn decide_applications(
    ids: Vec<AffiliateId>,
    decision: Decision,
    note: Option<String>,
) -> Result<DecisionOutcome, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.decide(&who, &ids, decision, note.as_deref()).await?)
        }
        .await,
    )
}

/// Erases an affiliate's personal data (a data-protection request); money records stay under a
/// pseudonym.
#[server(prefix = "/api", endpoint = "erase_affiliate", input = server_fn::codec::Json)]
pub async fn erase_affiliate(id: AffiliateId) -> Result<ApplicationView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.erase(&who, id).await?)
        }
        .await,
    )
}

/// Bans one or many affiliates with a reason (required); with `block_address`, the address each
/// applied from can't apply again either.
#[server(prefix = "/api", endpoint = "ban_affiliates", input = server_fn::codec::Json)]
pub async fn ban_affiliates(
    ids: Vec<AffiliateId>,
    reason: String,
    block_address: bool,
) -> Result<DecisionOutcome, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.ban(&who, &ids, &reason, block_address).await?)
        }
        .await,
    )
}

/// Confirms applicants' emails by hand (the merchant knows the address is theirs, or Klaviyo isn't
/// connected to send the link): their application goes ahead as if they had opened it.
#[server(prefix = "/api", endpoint = "verify_emails", input = server_fn::codec::Json)]
pub async fn verify_emails(ids: Vec<AffiliateId>) -> Result<DecisionOutcome, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.verify_by_hand(&who, &ids).await?)
        }
        .await,
    )
}
