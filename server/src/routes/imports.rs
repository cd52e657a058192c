//! `POST /api/imports/upload` (the raw CSV as the body; campaign, consent and filename in the
//! query) and `POST /api/imports/{id}/confirm`. Both answer with NDJSON: progress lines while the
//! file is checked or imported, then the report (or an error). The work runs in its own task, so a
//! closed tab does not stop an import half-way: it commits or rolls back as a whole either way.

use super::auth::{MerchantSession, NotSignedIn};
use super::AppState;
use crate::services::imports::{self, ImportError, Upload};
use app::api::views::{ConsentMode, ImportProgress};
use app::domain::CampaignId;
use app::error::AppError;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

/// The signed-in merchant, or the NDJSON error an import answers without one.
fn signed_in(session: Result<MerchantSession, NotSignedIn>) -> Result<MerchantSession, Response> {
    session.map_err(|why| match why {
        NotSignedIn::Missing => error(StatusCode::UNAUTHORIZED, "Sign in to import affiliates."),
        NotSignedIn::Failed => error(StatusCode::INTERNAL_SERVER_ERROR, &AppError::internal().message),
    })
}

fn error(status: StatusCode, message: &str) -> Response {
    let line = serde_json::to_string(&ImportProgress::Error { message: message.to_owned() }).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/x-ndjson")], format!("{line}\n")).into_response()
}

/// Streams what `work` reports over the channel, one JSON line each.
fn ndjson(rx: mpsc::UnboundedReceiver<ImportProgress>) -> Response {
    let lines = tokio_stream(rx).map(|p| {
        let mut line = serde_json::to_string(&p).unwrap_or_default();
        line.push('\n');
        Ok::<_, std::convert::Infallible>(Bytes::from(line))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson"), (header::CACHE_CONTROL, "no-store")],
        Body::from_stream(lines),
    )
        .into_response()
}

fn tokio_stream<T: Send + 'static>(mut rx: mpsc::UnboundedReceiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn finish(tx: &mpsc::UnboundedSender<ImportProgress>, result: Result<app::api::views::ImportReport, ImportError>) {
    let line = match result {
        Ok(report) => ImportProgress::Report(Box::new(report)),
        Err(ImportError::Changed(report)) => {
            let _ = tx.send(ImportProgress::Report(report.clone()));
            ImportProgress::Error { message: AppError::from(ImportError::Changed(report)).message }
        }
        Err(e) => ImportProgress::Error { message: AppError::from(e).message },
    };
    let _ = tx.send(line);
}

#[derive(Deserialize)]
pub struct UploadQuery {
    campaign: Option<i64>,
    consent: Option<String>,
    filename: Option<String>,
}

pub async fn upload(
    State(state): State<AppState>,
    session: Result<MerchantSession, NotSignedIn>,
    headers: HeaderMap,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> Response {
    // Who is asking comes first: the body is read (up to the limit) only for a signed-in merchant.
    let session = match signed_in(session) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let too_large = || error(StatusCode::PAYLOAD_TOO_LARGE, &AppError::from(ImportError::TooLarge).message);
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > imports::MAX_FILE_BYTES) {
        return too_large();
    }
    let body = match axum::body::to_bytes(body, imports::MAX_FILE_BYTES).await {
        Ok(body) => body,
        // No length declared (chunked) and past the limit, or the connection dropped.
        Err(_) if declared.is_none() => return too_large(),
        Err(_) => {
            return error(StatusCode::BAD_REQUEST, "The upload was cut off before the whole file arrived; try again.");
        }
    };
    let Some(campaign) = query.campaign.map(CampaignId) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Pick the campaign imported affiliates join.");
    };
    let Some(consent) = query.consent.as_deref().and_then(ConsentMode::parse) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Say how imported affiliates accepted your terms: elsewhere, or ask them by invite.",
        );
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let filename = query.filename.unwrap_or_default();
    tokio::spawn(async move {
        let upload =
            Upload { merchant: session.merchant, actor: &session.actor, campaign, consent, filename: &filename };
        let progress_tx = tx.clone();
        let progress = move |p: ImportProgress| {
            let _ = progress_tx.send(p);
        };
        let result = imports::check(&state.services.db, upload, body, &progress).await;
        finish(&tx, result);
    });
    ndjson(rx)
}

pub async fn confirm(
    State(state): State<AppState>,
    session: Result<MerchantSession, NotSignedIn>,
    Path(id): Path<i64>,
) -> Response {
    let session = match signed_in(session) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let services = &state.services;
        let progress_tx = tx.clone();
        let progress = move |p: ImportProgress| {
            let _ = progress_tx.send(p);
        };
        let result =
            imports::confirm(&services.db, &services.invites, session.merchant, &session.actor, id, &progress).await;
        finish(&tx, result);
    });
    ndjson(rx)
}
