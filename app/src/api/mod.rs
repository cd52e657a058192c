//! Server functions, by area. Each is a public URL, so each checks who is calling (`caller`), then
//! calls its use case in `backend::services` directly. They take JSON so that tests and scripts can
//! call them like any API.

pub mod accounts;
pub mod affiliates;
pub mod campaigns;
pub mod earnings;
pub mod imports;
pub mod invites;
pub mod klaviyo;
pub mod overview;
pub mod payouts;
pub mod shop;
pub mod sync;
pub use shared::views;

#[cfg(feature = "ssr")]
pub(crate) mod context {
    use crate::error::AppError;
    pub use backend::clock::now_ms;
    use backend::services::accounts::{ClientIp, SignedIn};
    use backend::services::Services;
    pub use backend::services::{
        affiliates, branding, campaigns, discounts, earnings, imports, integrations, overview, payouts, portal, sync,
    };
    use http::header::{COOKIE, SET_COOKIE};
    use http::request::Parts;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;
    use std::sync::Arc;

    /// The server's services, which it places in each request's context.
    pub fn services() -> Result<Arc<Services>, AppError> {
        use_context::<Arc<Services>>().ok_or_else(AppError::internal)
    }

    fn parts() -> Result<Parts, AppError> {
        use_context::<Parts>().ok_or_else(AppError::internal)
    }

    pub fn cookie_header() -> Option<String> {
        let parts = use_context::<Parts>()?;
        parts.headers.get(COOKIE).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    pub fn client_ip() -> Result<ClientIp, AppError> {
        parts()?.extensions.get::<ClientIp>().copied().ok_or_else(AppError::internal)
    }

    /// The services and the signed-in user, or `Unauthorized`.
    pub async fn caller() -> Result<(Arc<Services>, SignedIn), AppError> {
        let services = services()?;
        let who = services.accounts.signed_in(cookie_header().as_deref()).await?.ok_or_else(AppError::unauthorized)?;
        Ok((services, who))
    }

    pub fn set_cookie(value: &str) {
        if let (Some(res), Ok(value)) = (use_context::<ResponseOptions>(), http::HeaderValue::from_str(value)) {
            res.append_header(SET_COOKIE, value);
        }
    }

    /// Gives an error its HTTP status, so callers other than the app (tests, scripts) see 404/422/….
    pub fn answer<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let (Err(error), Some(res)) = (&result, use_context::<ResponseOptions>()) {
            if let Ok(status) = http::StatusCode::from_u16(error.status()) {
                res.set_status(status);
            }
        }
        result
    }
}
