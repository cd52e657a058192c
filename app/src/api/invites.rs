//! Bulk invites: check the pasted people, send, and manage the invites sent.

use crate::api::views::{InvitePreview, InviteRequest, InviteView, InvitesSent};
use crate::error::AppError;
use leptos::prelude::*;

/// Checks every line; sends nothing.
#[server(prefix = "/api", endpoint = "preview_invites", input = server_fn::codec::Json)]
pub async fn preview_invites(request: InviteRequest) -> Result<InvitePreview, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.invites.preview(&s.db, who.merchant(), &request).await?)
        }
        .await,
    )
}

/// Invites every valid line; lines with a problem are returned with it.
#[server(prefix = "/api", endpoint = "send_invites", input = server_fn::codec::Json)]
pub async fn send_invites(request: InviteRequest) -> Result<InvitesSent, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.invites.send(&s.db, who.merchant(), who.actor(), &request).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "list_invites", input = server_fn::codec::Json)]
pub async fn list_invites() -> Result<Vec<InviteView>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.invites.list(&s.db, who.merchant()).await?)
        }
        .await,
    )
}

/// A new link (the old one stops working) and another delivery.
#[server(prefix = "/api", endpoint = "resend_invite", input = server_fn::codec::Json)]
pub async fn resend_invite(id: i64) -> Result<InviteView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.invites.resend(&s.db, who.merchant(), who.actor(), id).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "revoke_invite", input = server_fn::codec::Json)]
pub async fn revoke_invite(id: i64) -> Result<InviteView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.invites.revoke(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}
