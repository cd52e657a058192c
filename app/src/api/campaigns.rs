//! Campaigns of the signed-in merchant.

use crate::api::views::CampaignView;
use crate::domain::{CampaignForm, CampaignId};
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "list_campaigns", input = server_fn::codec::Json)]
pub async fn list_campaigns() -> Result<Vec<CampaignView>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(campaigns::list(&s.db, who.merchant()).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "get_campaign", input = server_fn::codec::Json)]
pub async fn get_campaign(id: CampaignId) -> Result<CampaignView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(campaigns::get(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "create_campaign", input = server_fn::codec::Json)]
pub async fn create_campaign(form: CampaignForm) -> Result<CampaignView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(campaigns::create(&s.db, who.merchant(), &form).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "update_campaign", input = server_fn::codec::Json)]
pub async fn update_campaign(id: CampaignId, form: CampaignForm) -> Result<CampaignView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(campaigns::update(&s.db, who.merchant(), id, &form).await?)
        }
        .await,
    )
}
