//! Files the merchant downloads while signed in: a payout run as PayPal / Wise / CSV, and CSV
//! exports of affiliates, commissions and payouts over a date range.

use super::auth::{MerchantSession, NotSignedIn};
use super::AppState;
use crate::services::exports::{self, Export};
use crate::services::payouts::{self, FileKind};
use app::domain::MerchantId;
use app::error::{AppError, ErrorKind};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The signed-in merchant, or the answer a download gets without one.
fn merchant(session: Result<MerchantSession, NotSignedIn>) -> Result<MerchantId, Response> {
    match session {
        Ok(session) => Ok(session.merchant),
        Err(NotSignedIn::Missing) => {
            Err(failure(AppError::new(ErrorKind::Unauthorized, "Sign in to download this file.")))
        }
        Err(NotSignedIn::Failed) => Err(failure(AppError::internal())),
    }
}

fn failure(e: AppError) -> Response {
    let status = match e.kind {
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = e.fields.iter().next().map(|(_, m)| m.to_owned()).unwrap_or(e.message);
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

fn csv_file(name: &str, text: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        text,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct FileQuery {
    currency: Option<String>,
}

/// `GET /api/payouts/{run}/{kind}` with kind `paypal`, `wise` or `csv`.
pub async fn payout_file(
    State(state): State<AppState>,
    Path((run, kind)): Path<(i64, String)>,
    Query(query): Query<FileQuery>,
    session: Result<MerchantSession, NotSignedIn>,
) -> Response {
    let merchant = match merchant(session) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let Some(kind) = FileKind::parse(&kind) else {
        return failure(AppError::new(ErrorKind::NotFound, "Files are paypal, wise or csv."));
    };
    match payouts::file(&state.services, merchant, run, kind, query.currency.as_deref()).await {
        Ok((name, text)) => csv_file(&name, text),
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/exports/{affiliates|commissions|payouts}.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`.
pub async fn export(
    State(state): State<AppState>,
    Path(what): Path<String>,
    Query(range): Query<RangeQuery>,
    session: Result<MerchantSession, NotSignedIn>,
) -> Response {
    let merchant = match merchant(session) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let Some(what) = Export::parse(&what) else {
        return failure(AppError::new(ErrorKind::NotFound, "Exports are affiliates, commissions or payouts."));
    };
    let window = match exports::window(range.from.as_deref(), range.to.as_deref()) {
        Ok(w) => w,
        Err(e) => return failure(e),
    };
    match exports::export(&state.services, merchant, what, window).await {
        Ok((name, text)) => csv_file(&name, text),
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
pub struct ResultsQuery {
    breakdown: Option<String>,
    campaign: Option<String>,
    from: Option<String>,
    to: Option<String>,
    days: Option<String>,
}

/// `GET /api/exports/results.csv?breakdown={campaign|affiliate|day}&campaign=&from=&to=&days=`:
/// one table of the results page, for the same filter.
pub async fn results(
    State(state): State<AppState>,
    Query(query): Query<ResultsQuery>,
    session: Result<MerchantSession, NotSignedIn>,
) -> Response {
    let merchant = match merchant(session) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let Some(breakdown) = query.breakdown.as_deref().and_then(exports::Breakdown::parse) else {
        return failure(AppError::new(ErrorKind::Invalid, "breakdown is campaign, affiliate or day."));
    };
    let number = |raw: &Option<String>, field: &str| -> Result<Option<i64>, AppError> {
        match raw.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            None => Ok(None),
            Some(r) => r.parse().map(Some).map_err(|_| AppError::field(field, format!("{field} is a number."))),
        }
    };
    let (campaign, days) = match (number(&query.campaign, "campaign"), number(&query.days, "days")) {
        (Ok(c), Ok(d)) => (c, d),
        (Err(e), _) | (_, Err(e)) => return failure(e),
    };
    let filter = app::api::views::ReportFilter {
        campaign: campaign.map(app::domain::CampaignId),
        from: query.from.unwrap_or_default(),
        to: query.to.unwrap_or_default(),
        days: days.map(|d| u32::try_from(d).unwrap_or(u32::MAX)),
    };
    match exports::results(&state.services, merchant, &filter, breakdown).await {
        Ok((name, text)) => csv_file(&name, text),
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
pub struct Advance {
    days: i64,
}

/// `POST /_test/clock {"days": n}`: moves this process's clock by `n` days (negative: back
/// towards the wall clock). End-to-end tests only; the route exists only with `REKOMI_TEST_HOOKS=1`.
pub async fn advance_clock(axum::Json(advance): axum::Json<Advance>) -> Response {
    let offset = crate::clock::advance_clock(advance.days.clamp(-3650, 3650) * 86_400_000);
    tracing::warn!(offset_ms = offset, "test hook: clock moved ahead");
    axum::Json(serde_json::json!({ "offset_ms": offset })).into_response()
}
