//! Rewardful imports: past imports and one report. Uploading and confirming stream progress, so
//! they are plain routes (`/api/imports/upload`, `/api/imports/{id}/confirm`), not server functions.

use crate::api::views::ImportReport;
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "list_imports", input = server_fn::codec::Json)]
pub async fn list_imports() -> Result<Vec<ImportReport>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(imports::list(&s.db, who.merchant()).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "import_report", input = server_fn::codec::Json)]
pub async fn get_import(id: i64) -> Result<ImportReport, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(imports::get(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}
