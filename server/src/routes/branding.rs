//! A campaign's images: uploaded by the signed-in merchant (`PUT`/`DELETE
//! /api/campaigns/{id}/images/{slot}`, the file itself as the body) and served to everyone at
//! `/media/{sha256}.{ext}`. The name is the content's hash, so the address is cached for ever.

use super::auth::{MerchantSession, NotSignedIn};
use super::AppState;
use crate::services::branding;
use app::domain::branding::{Branding, ImageSlot};
use app::domain::CampaignId;
use app::error::{AppError, ErrorKind};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

fn answer(result: Result<Branding, AppError>) -> Response {
    match result {
        Ok(branding) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(branding)).into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(e)).into_response()
        }
    }
}

fn who(session: Result<MerchantSession, NotSignedIn>) -> Result<MerchantSession, AppError> {
    session.map_err(|why| match why {
        NotSignedIn::Missing => AppError::new(ErrorKind::Unauthorized, "Sign in to change the landing page."),
        NotSignedIn::Failed => AppError::internal(),
    })
}

fn slot(raw: &str) -> Result<ImageSlot, AppError> {
    ImageSlot::parse(raw).ok_or_else(|| AppError::not_found("image slot"))
}

pub async fn upload(
    State(state): State<AppState>,
    session: Result<MerchantSession, NotSignedIn>,
    Path((campaign, slot_name)): Path<(CampaignId, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let session = who(session)?;
        let slot = slot(&slot_name)?;
        let bytes = body.map_err(|_| {
            let limit = slot.max_bytes() / 1024;
            AppError::field(
                slot.as_str(),
                format!("The file is too large: the largest {} taken is {limit} KB.", slot.label()),
            )
        })?;
        Ok(branding::upload(&state.services.db, session.merchant, campaign, slot, &bytes).await?)
    }
    .await;
    answer(result)
}

pub async fn remove(
    State(state): State<AppState>,
    session: Result<MerchantSession, NotSignedIn>,
    Path((campaign, slot_name)): Path<(CampaignId, String)>,
) -> Response {
    let result = async {
        let session = who(session)?;
        let slot = slot(&slot_name)?;
        Ok(branding::remove(&state.services.db, session.merchant, campaign, slot).await?)
    }
    .await;
    answer(result)
}

/// `GET /media/{name}`: an image a landing page shows. Public, as the page is.
pub async fn image(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let etag = format!("\"{}\"", name.split('.').next().unwrap_or_default());
    match branding::image(&state.services.db, &name).await {
        Ok(Some((format, bytes))) => {
            let immutable = HeaderValue::from_static("public, max-age=31536000, immutable");
            let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
            if headers.get(header::IF_NONE_MATCH) == Some(&etag) {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, immutable)])
                    .into_response();
            }
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(format.content_type())),
                    (header::CACHE_CONTROL, immutable),
                    (header::ETAG, etag),
                    // An image is only ever an image: nothing in it runs, even opened on its own.
                    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "No such image.").into_response(),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "serving an image failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response()
        }
    }
}
