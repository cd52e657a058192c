//! Server functions, by area. Each is a public URL, so each checks who is calling, then hands over to
//! the server's services through [`crate::ports::Ports`]. They take JSON so that tests and scripts can
//! call them like any API.

pub mod accounts;
pub mod affiliates;
pub mod campaigns;
pub mod earnings;
pub mod imports;
pub mod invites;
pub mod klaviyo;
pub mod payouts;
pub mod sync;
pub mod views;

#[cfg(feature = "ssr")]
pub(crate) mod context {
    use crate::error::AppError;
    use crate::ports::{ClientIp, Ports, SignedIn};
    use http::header::{COOKIE, SET_COOKIE};
    use http::request::Parts;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    pub fn ports() -> Result<Ports, AppError> {
        use_context::<Ports>().ok_or_else(AppError::internal)
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

    /// The signed-in user, or `Unauthorized`.
    pub async fn signed_in() -> Result<SignedIn, AppError> {
        ports()?.accounts.signed_in(cookie_header().as_deref()).await?.ok_or_else(AppError::unauthorized)
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
