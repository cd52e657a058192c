//! The public landing page `/join/{merchant}/{campaign}`: plain server-rendered HTML and a form
//! that posts back to the same address, so it works with JavaScript off and re-renders with the
//! typed values and each error in place.

use crate::routes::AppState;
use crate::services::accounts::ClientIp;
use crate::services::affiliates::{self, AffiliateError, ApplyOutcome};
use crate::services::invites::{AcceptProblem, LinkProblem};
use crate::services::verification::{self, verify_path, Confirmed};
use app::domain::{ApplicationForm, FieldErrors};
use app::error::AppError;
use app::pages::join::{JoinPage, JoinState, PublicCampaign};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use leptos::prelude::*;
use leptos::tachys::view::RenderHtml;

#[derive(Debug, Default, serde::Deserialize)]
pub struct JoinQuery {
    invite: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Path((merchant, campaign)): Path<(String, String)>,
    Query(query): Query<JoinQuery>,
) -> Response {
    if let Some(token) = query.invite.filter(|t| !t.trim().is_empty()) {
        return show_invite(&state, &merchant, &campaign, &token).await;
    }
    match affiliates::public_campaign(&state.services.db, &merchant, &campaign).await {
        Ok((_, public)) => {
            let form = JoinState::Form { values: ApplicationForm::default(), errors: FieldErrors::new(), invite: None };
            render(StatusCode::OK, public, form, &merchant, &campaign)
        }
        Err(e) => failure(e),
    }
}

/// The form opened from an invite: the email fixed, the name pre-filled, the invite marked opened.
async fn show_invite(state: &AppState, merchant: &str, campaign: &str, token: &str) -> Response {
    let invites = &state.services.invites;
    match invites.open(&state.services.db, merchant, campaign, token).await {
        Ok((invite, _, public)) => {
            invites.mark_opened(&state.services.db, &invite).await;
            let values = ApplicationForm {
                email: invite.email.clone(),
                name: invite.full_name.clone().unwrap_or_default(),
                ..ApplicationForm::default()
            };
            let form = JoinState::Form { values, errors: FieldErrors::new(), invite: Some(token.to_owned()) };
            render(StatusCode::OK, public, form, merchant, campaign)
        }
        Err(problem) => link_problem(problem),
    }
}

fn link_problem(problem: LinkProblem) -> Response {
    match problem {
        LinkProblem::Internal(e) => {
            tracing::error!(error = format!("{e:#}"), "invite link check failed");
            message_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &AppError::internal().message)
        }
        LinkProblem::Invalid => message_page(StatusCode::NOT_FOUND, "Invite not found", &problem.to_string()),
        other => message_page(StatusCode::GONE, "This invite can't be used", &other.to_string()),
    }
}

/// A form posted from an invite link.
async fn submit_invite(state: &AppState, merchant: &str, campaign: &str, form: ApplicationForm) -> Response {
    let services = &state.services;
    let token = form.invite.clone();
    let (invite, row, public) = match services.invites.open(&services.db, merchant, campaign, &token).await {
        Ok(found) => found,
        Err(problem) => return link_problem(problem),
    };
    let outcome = services.invites.accept(&services.db, &invite, &row, &form).await;
    let page = match outcome {
        // Whatever the acceptance queued (a sync, events) wakes its runner as it commits.
        Ok(ApplyOutcome::Approved { first_name, referral_code }) => {
            approved(state, merchant, first_name, referral_code)
        }
        Ok(ApplyOutcome::Received { first_name }) => JoinState::Received { first_name },
        Ok(ApplyOutcome::ConfirmEmail { first_name, emailed }) => JoinState::ConfirmEmail { first_name, emailed },
        Ok(ApplyOutcome::AlreadyApplied) => JoinState::AlreadyApplied,
        Ok(ApplyOutcome::NotAccepted) => JoinState::NotAccepted,
        Err(AcceptProblem::Form(AffiliateError::Invalid(errors))) => {
            let accept_terms = if errors.get("accept_terms").is_some() { None } else { form.accept_terms.clone() };
            let values = ApplicationForm { rk_trap: String::new(), accept_terms, email: invite.email.clone(), ..form };
            let state = JoinState::Form { values, errors, invite: Some(token) };
            return render(StatusCode::UNPROCESSABLE_ENTITY, public, state, merchant, campaign);
        }
        Err(AcceptProblem::Gone { merchant_name }) => {
            return message_page(
                StatusCode::GONE,
                "This invite can't be used",
                &format!(
                    "This invite was used, withdrawn or replaced a moment ago. Ask {merchant_name} for a new one."
                ),
            )
        }
        Err(AcceptProblem::Form(other)) => return failure(other),
    };
    render(StatusCode::OK, public, page, merchant, campaign)
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Path((merchant, campaign)): Path<(String, String)>,
    form: Result<Form<ApplicationForm>, FormRejection>,
) -> Response {
    if let Ok(Form(form)) = &form {
        if !form.invite.trim().is_empty() {
            return submit_invite(&state, &merchant, &campaign, form.clone()).await;
        }
    }
    let (row, public) = match affiliates::public_campaign(&state.services.db, &merchant, &campaign).await {
        Ok(found) => found,
        Err(e) => return failure(e),
    };
    let Ok(Form(form)) = form else {
        let mut errors = FieldErrors::new();
        errors.add("form", "The form could not be read. Please fill it in again.");
        let state = JoinState::Form { values: ApplicationForm::default(), errors, invite: None };
        return render(StatusCode::BAD_REQUEST, public, state, &merchant, &campaign);
    };
    let s = &state.services;
    let outcome = affiliates::apply(&s.db, &s.applications, &s.public_base, &row, &form, ip.0).await;
    let (status, page) = match outcome {
        Ok(ApplyOutcome::Received { first_name }) => (StatusCode::OK, JoinState::Received { first_name }),
        Ok(ApplyOutcome::ConfirmEmail { first_name, emailed }) => {
            (StatusCode::OK, JoinState::ConfirmEmail { first_name, emailed })
        }
        // Auto-approved: its Klaviyo sync was queued with it, and wakes the runner on commit.
        Ok(ApplyOutcome::Approved { first_name, referral_code }) => {
            (StatusCode::OK, approved(&state, &merchant, first_name, referral_code))
        }
        Ok(ApplyOutcome::AlreadyApplied) => (StatusCode::OK, JoinState::AlreadyApplied),
        Ok(ApplyOutcome::NotAccepted) => (StatusCode::FORBIDDEN, JoinState::NotAccepted),
        Err(AffiliateError::Invalid(errors)) => {
            // Consent is given anew whenever the submission had an error about it.
            let accept_terms = if errors.get("accept_terms").is_some() { None } else { form.accept_terms.clone() };
            let values = ApplicationForm { rk_trap: String::new(), accept_terms, ..form };
            (StatusCode::UNPROCESSABLE_ENTITY, JoinState::Form { values, errors, invite: None })
        }
        Err(AffiliateError::RateLimited(retry_after_secs)) => {
            let mut response = render(
                StatusCode::TOO_MANY_REQUESTS,
                public,
                JoinState::TooMany { retry_after_secs },
                &merchant,
                &campaign,
            );
            if let Ok(value) = retry_after_secs.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Err(e) => return failure(e),
    };
    render(status, public, page, &merchant, &campaign)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
}

/// The link from the verification email: a page with one button, so a mail scanner's GET doesn't
/// use it up.
pub async fn show_verify(
    State(state): State<AppState>,
    Path((merchant, campaign)): Path<(String, String)>,
    Query(query): Query<VerifyQuery>,
) -> Response {
    match affiliates::linked_campaign(&state.services.db, &merchant, &campaign).await {
        Ok((_, public)) => {
            let page = JoinState::Confirm { token: query.token };
            render_at(StatusCode::OK, public, page, &verify_path(&merchant, &campaign))
        }
        Err(e) => failure(e),
    }
}

pub async fn verify(
    State(state): State<AppState>,
    Path((merchant, campaign)): Path<(String, String)>,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let (row, public) = match affiliates::linked_campaign(&state.services.db, &merchant, &campaign).await {
        Ok(found) => found,
        Err(e) => return failure(e),
    };
    let token = form.map(|Form(f)| f.token).unwrap_or_default();
    let page = match verification::confirm(&state.services.db, &row, &token).await {
        Ok(Confirmed::Verified { first_name } | Confirmed::Already { first_name }) => {
            JoinState::Verified { first_name }
        }
        // Auto-approved: its Klaviyo sync was queued with it, and wakes the runner on commit.
        Ok(Confirmed::Approved { first_name, referral_code }) => approved(&state, &merchant, first_name, referral_code),
        Ok(Confirmed::Invalid) => {
            return message_page(
                StatusCode::GONE,
                "This link can't be used",
                "It was used already or has expired. Apply again with the same email to get a new link.",
            )
        }
        Err(e) => return failure(e),
    };
    render_at(StatusCode::OK, public, page, &verify_path(&merchant, &campaign))
}

fn render(status: StatusCode, campaign: PublicCampaign, state: JoinState, merchant: &str, slug: &str) -> Response {
    render_at(status, campaign, state, &format!("/join/{merchant}/{slug}"))
}

/// The page, its form posting to `action`.
fn render_at(status: StatusCode, campaign: PublicCampaign, state: JoinState, action: &str) -> Response {
    let title = format!("{} · {}", campaign.campaign_name, campaign.merchant_name);
    let action = action.to_owned();
    let body = Owner::new().with(|| view! { <JoinPage campaign state action/> }.to_html());
    document(status, &title, &body)
}

fn failure(error: AffiliateError) -> Response {
    match error {
        AffiliateError::UnknownCampaign => message_page(
            StatusCode::NOT_FOUND,
            "Program not found",
            "There is no affiliate program at this address. Check the link you were given.",
        ),
        AffiliateError::CampaignClosed { merchant_name } => message_page(
            StatusCode::NOT_FOUND,
            "Applications are closed",
            &format!("{merchant_name} isn't taking applications for this program right now."),
        ),
        other => {
            let app_error = app::error::AppError::from(other);
            message_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &app_error.message)
        }
    }
}

pub(crate) fn message_page(status: StatusCode, heading: &str, text: &str) -> Response {
    let (heading, text) = (heading.to_owned(), text.to_owned());
    let body = Owner::new().with(|| view! { <main class="join"><h1>{heading}</h1><p>{text}</p></main> }.to_html());
    document(status, "Rekomi", &body)
}

/// The page around a rendered body. No scripts: nothing here needs them.
pub(crate) fn document(status: StatusCode, title: &str, body: &str) -> Response {
    let title = format!("<title>{}</title>", app::pages::join::escape_html(title));
    // Built with `erase_components`, leptos marks dynamic text with `<!>` comments for hydration.
    // These pages are never hydrated, so the markers go; text from people is escaped, so a literal
    // `<!>` can only be a marker.
    let body = body.replace("<!>", "");
    let css = app::assets::stylesheet();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>{title}\
         <link rel=\"stylesheet\" href=\"{css}\"/></head><body class=\"public\">{body}</body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// The welcome page of an approved affiliate: their code, their tracking link and where their
/// dashboard is.
fn approved(state: &AppState, merchant_slug: &str, first_name: String, referral_code: String) -> JoinState {
    let base = &state.services.public_base;
    JoinState::Approved {
        first_name,
        link: format!("{base}/r/{referral_code}"),
        portal: format!("{base}{}", crate::services::portal::portal_path(merchant_slug)),
        referral_code,
    }
}
