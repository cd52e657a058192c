//! The merchant's home page: the setup checklist and the period's figures.

use crate::api::views::Overview;
use crate::error::AppError;
use leptos::prelude::*;

/// The home page's checklist and the figures of the last `days` days (one of `OVERVIEW_DAYS`).
#[server(prefix = "/api", endpoint = "home_overview", input = server_fn::codec::Json)]
pub async fn home_overview(days: u32) -> Result<Overview, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            overview::overview(&s, who.merchant(), days).await
        }
        .await,
    )
}
