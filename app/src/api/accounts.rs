//! Sign up, log in, log out, and who is signed in.

use crate::api::views::SessionView;
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "current_session", input = server_fn::codec::Json)]
pub async fn current_session() -> Result<Option<SessionView>, AppError> {
    use super::context::*;
    answer(async { Ok(services()?.accounts.signed_in(cookie_header().as_deref()).await?.map(|s| s.session)) }.await)
}

#[server(prefix = "/api", endpoint = "sign_up", input = server_fn::codec::Json)]
pub async fn sign_up(shop_name: String, email: String, password: String) -> Result<SessionView, AppError> {
    use super::context::*;
    answer(
        async {
            let accounts = &services()?.accounts;
            let created = accounts.sign_up(&shop_name, &email, &password, client_ip()?.0).await?;
            set_cookie(&accounts.session_cookie(&created.token));
            Ok(created.view)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "log_in", input = server_fn::codec::Json)]
pub async fn log_in(email: String, password: String) -> Result<SessionView, AppError> {
    use super::context::*;
    answer(
        async {
            let accounts = &services()?.accounts;
            let session = accounts.log_in(&email, &password, client_ip()?.0).await?;
            set_cookie(&accounts.session_cookie(&session.token));
            Ok(session.view)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "log_out", input = server_fn::codec::Json)]
pub async fn log_out() -> Result<(), AppError> {
    use super::context::*;
    answer(
        async {
            let clear = services()?.accounts.log_out_cookie(cookie_header().as_deref()).await?;
            set_cookie(&clear);
            Ok(())
        }
        .await,
    )
}
