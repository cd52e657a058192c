//! Campaigns of the signed-in merchant.

use crate::api::views::{CampaignView, DiscountSettings};
use crate::domain::branding::Branding;
use crate::domain::discount::DiscountForm;
use crate::domain::questions::QuestionForm;
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

/// The campaign's own application questions, as the editor shows them.
#[server(prefix = "/api", endpoint = "campaign_questions", input = server_fn::codec::Json)]
pub async fn campaign_questions(id: CampaignId) -> Result<Vec<QuestionForm>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(campaigns::questions(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}

/// Replaces the campaign's questions (in order); a question left out is retired, and the answers
/// given to it keep their wording.
#[server(prefix = "/api", endpoint = "save_campaign_questions", input = server_fn::codec::Json)]
pub async fn save_campaign_questions(
    id: CampaignId,
    questions: Vec<QuestionForm>,
) -> Result<Vec<QuestionForm>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(campaigns::save_questions(&s.db, who.merchant(), id, &questions).await?)
        }
        .await,
    )
}

/// The campaign's discount codes in Shopify: terms, and where the codes stand.
#[server(prefix = "/api", endpoint = "campaign_discount", input = server_fn::codec::Json)]
pub async fn campaign_discount(id: CampaignId) -> Result<DiscountSettings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(discounts::settings(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}

/// Saves the campaign's discount terms; Shopify gets them through the outbox.
#[server(prefix = "/api", endpoint = "save_campaign_discount", input = server_fn::codec::Json)]
pub async fn save_campaign_discount(id: CampaignId, form: DiscountForm) -> Result<DiscountSettings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(discounts::save(&s.db, who.merchant(), id, &form).await?)
        }
        .await,
    )
}

/// "Make codes now": a code for every approved affiliate of the campaign that has none.
#[server(prefix = "/api", endpoint = "make_discount_codes", input = server_fn::codec::Json)]
pub async fn make_discount_codes(id: CampaignId) -> Result<DiscountSettings, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(discounts::make_codes(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}

/// The campaign's landing-page look: colour, logo and hero image.
#[server(prefix = "/api", endpoint = "campaign_branding", input = server_fn::codec::Json)]
pub async fn campaign_branding(id: CampaignId) -> Result<Branding, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(branding::get(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}

/// Sets the landing page's brand colour (`#rrggbb`); empty goes back to Rekomi's own.
#[server(prefix = "/api", endpoint = "save_brand_color", input = server_fn::codec::Json)]
pub async fn save_brand_color(id: CampaignId, color: String) -> Result<Branding, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(branding::set_color(&s.db, who.merchant(), id, &color).await?)
        }
        .await,
    )
}
