//! The merchant's Klaviyo connection and list choices. The key goes in once, over this call, and
//! never comes back out: answers carry only its hint.

use crate::api::views::{ChosenList, ConnectOutcome, ConnectionView, KlaviyoListView, KlaviyoOverview};
use crate::domain::CampaignId;
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "klaviyo_status", input = server_fn::codec::Json)]
pub async fn klaviyo_status() -> Result<KlaviyoOverview, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.klaviyo.status(who.merchant()).await?)
        }
        .await,
    )
}

/// Tests the key with live calls; saves it only when every permission checked out. A key from
/// another Klaviyo account than before is saved only when `confirm_account_id` names that account.
#[server(prefix = "/api", endpoint = "connect_klaviyo", input = server_fn::codec::Json)]
pub async fn connect_klaviyo(key: String, confirm_account_id: Option<String>) -> Result<ConnectOutcome, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.klaviyo.connect(who.merchant(), &key, confirm_account_id.as_deref()).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "disconnect_klaviyo", input = server_fn::codec::Json)]
pub async fn disconnect_klaviyo() -> Result<KlaviyoOverview, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.klaviyo.disconnect(who.merchant()).await?)
        }
        .await,
    )
}

/// Every list in the connected account, read live from Klaviyo.
#[server(prefix = "/api", endpoint = "klaviyo_lists", input = server_fn::codec::Json)]
pub async fn klaviyo_lists() -> Result<Vec<KlaviyoListView>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.klaviyo.lists(who.merchant()).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "choose_default_list", input = server_fn::codec::Json)]
pub async fn choose_default_list(list_id: String) -> Result<ConnectionView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.klaviyo.choose_default_list(who.merchant(), &list_id).await?)
        }
        .await,
    )
}

/// A campaign's own list; `None` goes back to the default list.
#[server(prefix = "/api", endpoint = "choose_campaign_list", input = server_fn::codec::Json)]
pub async fn choose_campaign_list(
    campaign: CampaignId,
    list_id: Option<String>,
) -> Result<Option<ChosenList>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.klaviyo.choose_campaign_list(who.merchant(), campaign, list_id.as_deref()).await?)
        }
        .await,
    )
}
