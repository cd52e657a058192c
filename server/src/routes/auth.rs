//! Who is calling, as axum extractors, so every handler that needs a signed-in merchant or an API
//! token gets it the same way: [`MerchantSession`] (the session cookie of the merchant app) and
//! [`ApiCaller`](super::api_v1::ApiCaller) (a bearer token, in the API's own error shape).
//! A handler that answers in its own format takes `Result<MerchantSession, NotSignedIn>`.

use super::AppState;
use crate::services::accounts::token_from_cookie_header;
use app::domain::MerchantId;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The merchant signed in with the request's session cookie.
#[derive(Debug, Clone)]
pub struct MerchantSession {
    pub merchant: MerchantId,
    /// The signed-in user's email: who changes are recorded against in the audit trail.
    pub actor: String,
    /// The session token, for feeds that check later that the session still lives.
    pub token: String,
}

/// Why there is no [`MerchantSession`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSignedIn {
    /// No cookie, or a session that ended.
    Missing,
    /// The session could not be looked up (logged).
    Failed,
}

impl NotSignedIn {
    pub fn status(self) -> StatusCode {
        match self {
            Self::Missing => StatusCode::UNAUTHORIZED,
            Self::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        let message = match self {
            Self::Missing => "Sign in to Rekomi first.",
            Self::Failed => "Something went wrong on Rekomi's side; retry in a moment.",
        };
        (self.status(), message).into_response()
    }
}

impl FromRequestParts<AppState> for MerchantSession {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NotSignedIn> {
        let token = parts
            .headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(token_from_cookie_header)
            .ok_or(NotSignedIn::Missing)?;
        match state.services.accounts.lookup(token).await {
            Ok(Some(session)) => {
                Ok(Self { merchant: session.merchant_id, actor: session.user_email, token: token.to_owned() })
            }
            Ok(None) => Err(NotSignedIn::Missing),
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "session lookup failed");
                Err(NotSignedIn::Failed)
            }
        }
    }
}

/// Merchant pages (`/app` and below) answer a signed-out visitor with a redirect to the log-in
/// page before anything renders: the guard holds without JavaScript, and no page is rendered (and
/// its data asked for) on behalf of nobody. A failed lookup lets the page render its own error.
pub async fn merchant_pages(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if path != "/app" && !path.starts_with("/app/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Err(NotSignedIn::Missing) = MerchantSession::from_request_parts(&mut parts, &state).await {
        return axum::response::Redirect::to("/login").into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, body)).await
}
