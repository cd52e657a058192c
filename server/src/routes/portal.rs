//! `/portal/{shop}`: the affiliate portal, server-rendered with plain forms (see `app::pages::portal`).

use crate::routes::AppState;
use crate::services::accounts::ClientIp;
use crate::services::portal::{self, LinkDelivery, COOKIE, SESSION_DAYS};
use crate::services::Services;
use app::domain::{AffiliateId, Email, MerchantId};
use app::pages::portal::{PortalPage, PortalState};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use leptos::prelude::*;
use leptos::tachys::view::RenderHtml;
use serde::Deserialize;

fn render(status: StatusCode, merchant_name: &str, slug: &str, state: PortalState) -> Response {
    let base = portal::portal_path(slug);
    let name = merchant_name.to_owned();
    let body = Owner::new().with(|| view! { <PortalPage merchant_name=name base state/> }.to_html());
    super::join::document(status, &format!("{merchant_name} · affiliate portal"), &body)
}

fn failed(error: &anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "portal request failed");
    super::join::message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        &app::error::AppError::internal().message,
    )
}

async fn merchant(s: &Services, slug: &str) -> Result<(MerchantId, String), Response> {
    match portal::merchant(s, slug).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(super::join::message_page(
            StatusCode::NOT_FOUND,
            "Portal not found",
            "There is no affiliate portal at this address. Check the link you were given.",
        )),
        Err(e) => Err(failed(&anyhow::Error::new(e))),
    }
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    super::cookie(headers, COOKIE)
}

async fn session(s: &Services, merchant: MerchantId, headers: &HeaderMap) -> Result<Option<AffiliateId>, Response> {
    portal::signed_in(s, merchant, cookie(headers)).await.map_err(|e| failed(&e))
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    token: Option<String>,
    saved: Option<String>,
}

async fn dashboard_page(
    s: &Services,
    (id, name): (MerchantId, String),
    slug: &str,
    affiliate: AffiliateId,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    match portal::dashboard(s, id, &name, affiliate).await {
        Ok(dashboard) => {
            let state = PortalState::Dashboard { dashboard: Box::new(dashboard), notice, error };
            let status = if error_status(&state) { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            render(status, &name, slug, state)
        }
        Err(e) => failed(&e),
    }
}

fn error_status(state: &PortalState) -> bool {
    matches!(state, PortalState::Dashboard { error: Some(_), .. })
}

pub async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
    headers: HeaderMap,
) -> Response {
    let s = &state.services;
    let found = match merchant(s, &slug).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match session(s, found.0, &headers).await {
        Ok(Some(affiliate)) => {
            let notice = query.saved.map(|_| "Saved.".to_owned());
            dashboard_page(s, found, &slug, affiliate, notice, None).await
        }
        Ok(None) => {
            let emailed = match portal::emails_links(s, found.0).await {
                Ok(emailed) => emailed,
                Err(e) => return failed(&e),
            };
            let state = PortalState::SignIn { notice: None, error: None, email: String::new(), emailed };
            render(StatusCode::OK, &found.1, &slug, state)
        }
        Err(response) => response,
    }
}

/// The link from the email: a page with one button, so a mail scanner's GET doesn't use it up.
pub async fn confirm(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let s = &state.services;
    let (_, name) = match merchant(s, &slug).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let token = query.token.unwrap_or_default();
    render(StatusCode::OK, &name, &slug, PortalState::Confirm { token })
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    email: String,
}

pub async fn request_link(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Path(slug): Path<String>,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Response {
    let s = &state.services;
    let (id, name) = match merchant(s, &slug).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let typed = form.ok().map(|Form(f)| f.email).unwrap_or_default();
    let emailed = match portal::emails_links(s, id).await {
        Ok(emailed) => emailed,
        Err(e) => return failed(&e),
    };
    let sign_in = |status, notice: Option<String>, error: Option<String>| {
        render(status, &name, &slug, PortalState::SignIn { notice, error, email: typed.clone(), emailed })
    };
    if let Err(wait) = s.applications.check(ip.0) {
        return sign_in(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(format!("Too many requests from your network; try again in {wait} seconds.")),
        );
    }
    let email = match Email::parse(&typed) {
        Ok(email) => email,
        Err(e) => return sign_in(StatusCode::UNPROCESSABLE_ENTITY, None, Some(e.to_string())),
    };
    match portal::request_link(s, &slug, id, &email).await {
        Ok(LinkDelivery::Emailed) => sign_in(
            StatusCode::OK,
            Some(format!(
                "If {} belongs to an affiliate of {name}, a sign-in link is on its way. It works once, for 15 minutes.",
                email.as_str()
            )),
            None,
        ),
        Ok(LinkDelivery::AskMerchant) => {
            sign_in(StatusCode::OK, Some(format!("{name} sends sign-in links personally: ask them for one.")), None)
        }
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

pub async fn login(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let s = &state.services;
    let (id, name) = match merchant(s, &slug).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let token = form.ok().map(|Form(f)| f.token).unwrap_or_default();
    match portal::redeem(s, id, &token).await {
        Ok(Some(session)) => {
            let path = portal::portal_path(&slug);
            let secure = if s.public_base.starts_with("https://") { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={session}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
                SESSION_DAYS * 86_400
            );
            let mut response = Redirect::to(&path).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(None) => {
            let emailed = match portal::emails_links(s, id).await {
                Ok(emailed) => emailed,
                Err(e) => return failed(&e),
            };
            let again =
                if emailed { "Ask for a new one below.".to_owned() } else { format!("Ask {name} for a new one.") };
            let error = Some(format!("That sign-in link was used already or has expired. {again}"));
            render(
                StatusCode::GONE,
                &name,
                &slug,
                PortalState::SignIn { notice: None, error, email: String::new(), emailed },
            )
        }
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
pub struct PayoutForm {
    #[serde(default)]
    payout_email: String,
}

pub async fn payout(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    form: Result<Form<PayoutForm>, FormRejection>,
) -> Response {
    let s = &state.services;
    let found = match merchant(s, &slug).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let affiliate = match session(s, found.0, &headers).await {
        Ok(Some(a)) => a,
        Ok(None) => return Redirect::to(&portal::portal_path(&slug)).into_response(),
        Err(response) => return response,
    };
    let raw = form.ok().map(|Form(f)| f.payout_email).unwrap_or_default();
    match portal::set_payout_email(s, found.0, affiliate, &raw).await {
        Ok(Ok(())) => Redirect::to(&format!("{}?saved=1", portal::portal_path(&slug))).into_response(),
        Ok(Err(message)) => dashboard_page(s, found, &slug, affiliate, None, Some(message)).await,
        Err(e) => failed(&e),
    }
}

pub async fn logout(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    if let Err(e) = portal::sign_out(&state.services, cookie(&headers)).await {
        return failed(&e);
    }
    let path = portal::portal_path(&slug);
    let mut response = Redirect::to(&path).into_response();
    let clear = format!("{COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
