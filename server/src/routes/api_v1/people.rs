//! Affiliates, invites, commissions and payouts: the endpoints Klaviyo flows call (rate bump,
//! invite) and the paged lists.

use super::{answer, idempotent, rest_error, ApiCaller};
use crate::routes::AppState;
use crate::services::rest::{
    self, AffiliateOut, ErrorBody, InviteApiRequest, InviteOut, Page, RateBumpOut, RateBumpRequest,
};
use crate::services::rest::{CommissionOut, ListQuery, PayoutOut};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

/// A GET: reads the query string (a bad one is a 400 in the API's error shape),
/// and answers with what the call returns.
macro_rules! answer_get {
    ($query:expr, |$q:ident| $call:expr) => {{
        let $q = match $query {
            Ok(Query(q)) => q,
            Err(e) => return bad_query(e),
        };
        match $call.await {
            Ok(out) => Json(out).into_response(),
            Err(e) => rest_error(e),
        }
    }};
}

/// Sets an affiliate's commission override by email: the "rate bump" a Klaviyo flow sends.
#[utoipa::path(post, path = "/api/v1/affiliates/rate", tag = "affiliates",
    request_body = RateBumpRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; a retry gets the first answer.")),
    responses(
        (status = 200, description = "The override in force now", body = RateBumpOut),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "No affiliate of this shop has that email", body = ErrorBody),
        (status = 422, description = "A field is wrong; the message names it", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn rate_bump(State(state): State<AppState>, caller: ApiCaller, headers: HeaderMap, body: Bytes) -> Response {
    let services = state.services.clone();
    idempotent(&state, caller, &headers, &body, |caller, req: RateBumpRequest| async move {
        answer(StatusCode::OK, rest::rate_bump(&services, caller.merchant, req, &caller.actor).await)
    })
    .await
}

/// Invites an email to apply and returns the personal link; an invite still open for the email is
/// returned instead of a second one.
#[utoipa::path(post, path = "/api/v1/invites", tag = "affiliates",
    request_body = InviteApiRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; a retry gets the first answer.")),
    responses(
        (status = 201, description = "Invited", body = InviteOut),
        (status = 200, description = "An invite was already open for this email", body = InviteOut),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 409, description = "The email is already an affiliate", body = ErrorBody),
        (status = 422, description = "A field is wrong; the message names it", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn invite(State(state): State<AppState>, caller: ApiCaller, headers: HeaderMap, body: Bytes) -> Response {
    let services = state.services.clone();
    idempotent(&state, caller, &headers, &body, |caller, req: InviteApiRequest| async move {
        match rest::invite(&services, caller.merchant, req, &caller.actor).await {
            Ok(out) if out.created => answer(StatusCode::CREATED, Ok(out)),
            other => answer(StatusCode::OK, other),
        }
    })
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// The affiliate's email.
    email: String,
}

/// An affiliate's state, link, code and commission rate, by email.
#[utoipa::path(get, path = "/api/v1/affiliates/status", tag = "affiliates", params(StatusQuery),
    responses(
        (status = 200, description = "The affiliate", body = AffiliateOut),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "No affiliate of this shop has that email", body = ErrorBody),
        (status = 422, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn status(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Response {
    answer_get!(query, |q| rest::status(&state.services, caller.merchant, &q.email))
}

/// The shop's affiliates, newest first.
#[utoipa::path(get, path = "/api/v1/affiliates", tag = "affiliates", params(ListQuery),
    responses(
        (status = 200, description = "A page", body = Page<AffiliateOut>),
        (status = 400, description = "A bad cursor, limit or state", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn affiliates(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    answer_get!(q, |q| rest::affiliates_page(&state.services, caller.merchant, &q))
}

/// Commission lines, newest first.
#[utoipa::path(get, path = "/api/v1/commissions", tag = "earnings", params(ListQuery),
    responses(
        (status = 200, description = "A page", body = Page<CommissionOut>),
        (status = 400, description = "A bad cursor, limit or state", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "affiliate_email names no affiliate", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn commissions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    answer_get!(q, |q| rest::commissions_page(&state.services, caller.merchant, &q))
}

/// Payouts, newest first.
#[utoipa::path(get, path = "/api/v1/payouts", tag = "earnings", params(ListQuery),
    responses(
        (status = 200, description = "A page", body = Page<PayoutOut>),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "affiliate_email names no affiliate", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn payouts(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    answer_get!(q, |q| rest::payouts_page(&state.services, caller.merchant, &q))
}

fn bad_query(e: QueryRejection) -> Response {
    super::error(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        &format!("The query string is not valid: {}.", e.body_text()),
    )
}
