//! Campaigns of the signed-in merchant.

use crate::api::views::CampaignView;
use crate::domain::{CampaignForm, CampaignId};
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "list_campaigns", input = server_fn::codec::Json)]
pub async fn list_campaigns() -> Result<Vec<CampaignView>, AppError> {
    use super::context::*;
    answer(async { ports()?.campaigns.list(&signed_in().await?).await }.await)
}

#[server(prefix = "/api", endpoint = "get_campaign", input = server_fn::codec::Json)]
pub async fn get_campaign(id: CampaignId) -> Result<CampaignView, AppError> {
    use super::context::*;
    answer(async { ports()?.campaigns.get(&signed_in().await?, id).await }.await)
}

#[server(prefix = "/api", endpoint = "create_campaign", input = server_fn::codec::Json)]
pub async fn create_campaign(form: CampaignForm) -> Result<CampaignView, AppError> {
    use super::context::*;
    answer(async { ports()?.campaigns.create(&signed_in().await?, form).await }.await)
}

#[server(prefix = "/api", endpoint = "update_campaign", input = server_fn::codec::Json)]
pub async fn update_campaign(id: CampaignId, form: CampaignForm) -> Result<CampaignView, AppError> {
    use super::context::*;
    answer(async { ports()?.campaigns.update(&signed_in().await?, id, form).await }.await)
}
