//! The public landing page where affiliates apply. The server renders it as plain HTML with no
//! scripts: it must work with JavaScript off, load fast, and keep what was typed when it shows errors.

pub use crate::api::views::PublicCampaign;
use crate::domain::questions::{Question, QuestionKind};
use crate::domain::{ApplicationForm, FieldErrors};
use leptos::prelude::*;

/// What the page shows below the pitch.
#[derive(Debug, Clone)]
pub enum JoinState {
    /// The form, with what was typed and what was wrong (empty on first view).
    /// `invite` is the token of the invite link the form was opened with: the email is then fixed.
    Form { values: ApplicationForm, errors: FieldErrors, invite: Option<String> },
    /// Applied (from an invite); the merchant will review.
    Received { first_name: String },
    /// Applied from the form: the address is to be confirmed first. `emailed` when the merchant's
    /// Klaviyo is connected to carry the link (the merchant's flow on `Rekomi Affiliate Verify Email`).
    ConfirmEmail { first_name: String, emailed: bool },
    /// The verification link opened: one button that confirms (a POST, so link scanners can't use it up).
    Confirm { token: String },
    /// The address is confirmed; the merchant reviews the application.
    Verified { first_name: String },
    /// Approved at once by an auto-approve campaign.
    /// `link` is the tracking link; `portal` where the affiliate signs in to follow their earnings.
    Approved { first_name: String, referral_code: String, link: String, portal: String },
    /// This email already applied to this campaign.
    AlreadyApplied,
    /// The merchant doesn't accept applications from this email or address.
    NotAccepted,
    /// The per-address limit was hit.
    TooMany { retry_after_secs: u64 },
}

#[component]
pub fn JoinPage(campaign: PublicCampaign, state: JoinState, action: String) -> impl IntoView {
    let PublicCampaign {
        merchant_name,
        campaign_name,
        pitch,
        terms,
        terms_version,
        commission,
        cookie_days,
        questions,
        branding,
    } = campaign;
    let style = branding.style();
    let branded = style.is_some();
    let logo = branding.logo.map(|logo| {
        view! {
            <img class="brand-logo" src=logo.url width=logo.width height=logo.height
                alt=format!("{merchant_name} logo")/>
        }
    });
    // Decorative: the page says everything in words, so the picture has an empty alt.
    let hero = branding.hero.map(|hero| {
        view! { <img class="hero-image" src=hero.url width=hero.width height=hero.height alt=""/> }
    });
    view! {
        <main class="join" class:branded=branded style=style>
            <header class="brand-band">
                {logo}
                <p class="eyebrow">{merchant_name.clone()}" affiliate program"</p>
            </header>
            {hero}
            <h1>{campaign_name}</h1>
            <div class="pitch">{paragraphs(&pitch)}</div>
            <ul class="facts">
                <li><strong>"Commission: "</strong>{commission}</li>
                <li><strong>"Cookie window: "</strong>{format!("{cookie_days} days")}</li>
            </ul>
            {match state {
                JoinState::Form { values, errors, invite } => view! {
                    <ApplicationFormView values errors terms terms_version action invite questions/>
                }.into_any(),
                JoinState::Received { first_name } | JoinState::Verified { first_name } => view! {
                    <section class="outcome" role="status">
                        <h2>{format!("Thanks, {first_name}!")}</h2>
                        <p>{format!("Your application is in. {merchant_name} reviews each application.")}</p>
                    </section>
                }.into_any(),
                JoinState::ConfirmEmail { first_name, emailed: true } => view! {
                    <section class="outcome" role="status">
                        <h2>{format!("Almost there, {first_name}: confirm your email")}</h2>
                        <p>{format!("{merchant_name} sends a link to the address you entered. Your application is reviewed once you have opened it.")}</p>
                        <p class="muted">"Nothing after a few minutes? Check your spam folder, or send the form again for a new link."</p>
                    </section>
                }.into_any(),
                JoinState::ConfirmEmail { first_name, emailed: false } => view! {
                    <section class="outcome" role="status">
                        <h2>{format!("Thanks, {first_name}!")}</h2>
                        <p>{format!("Your application is in. {merchant_name} confirms your email address and reviews each application.")}</p>
                    </section>
                }.into_any(),
                JoinState::Confirm { token } => view! {
                    <form class="apply" method="post" action=action.clone()>
                        <h2>"Confirm your email"</h2>
                        <p>{format!("Confirm that this address is yours to go on with your application to {merchant_name}.")}</p>
                        <input type="hidden" name="token" value=token/>
                        <button type="submit">"Confirm my email"</button>
                    </form>
                }.into_any(),
                JoinState::Approved { first_name, referral_code, link, portal } => view! {
                    <section class="outcome" role="status">
                        <h2>{format!("Welcome aboard, {first_name}!")}</h2>
                        <p>"You're approved. Your referral code is "<code class="code">{referral_code}</code>"."</p>
                        <label for="tracking-link">"Your tracking link: share it, and orders it brings in earn you commission"</label>
                        <input id="tracking-link" readonly value=link data-testid="tracking-link"/>
                        <p>"Follow your clicks, commissions and payouts on "<a href=portal.clone()>{format!("{merchant_name}'s affiliate dashboard")}</a>
                           " (sign in with this email)."</p>
                    </section>
                }.into_any(),
                JoinState::AlreadyApplied => view! {
                    <section class="outcome" role="status">
                        <h2>"You've already applied"</h2>
                        <p>{format!("We already have an application from this email, so there is nothing more to do. {merchant_name} will be in touch.")}</p>
                    </section>
                }.into_any(),
                JoinState::NotAccepted => view! {
                    <section class="outcome error" role="alert">
                        <h2>"Application not accepted"</h2>
                        <p>{format!("{merchant_name} doesn't accept an application from you for this program.")}</p>
                    </section>
                }.into_any(),
                JoinState::TooMany { retry_after_secs } => view! {
                    <section class="outcome error" role="alert">
                        <h2>"Too many applications"</h2>
                        <p>{format!("We received too many applications from your network. Try again in {retry_after_secs} s.")}</p>
                    </section>
                }.into_any(),
            }}
        </main>
    }
}

#[component]
fn ApplicationFormView(
    values: ApplicationForm,
    errors: FieldErrors,
    terms: String,
    terms_version: i64,
    action: String,
    invite: Option<String>,
    questions: Vec<Question>,
) -> impl IntoView {
    let invited = invite.is_some();
    let error = |field: &'static str| {
        errors.get(field).map(|m| view! { <p class="field-error" id=format!("{field}-error")>{m.to_owned()}</p> })
    };
    let invalid = |field: &str| errors.get(field).is_some().then_some("true");
    let described = |field: &str| errors.get(field).map(|_| format!("{field}-error"));
    let summary = (!errors.is_empty()).then(|| {
        view! {
            <div class="banner error" role="alert">
                <p>"Please correct the following:"</p>
                // A question's message names the question here; under the field it needn't.
                <ul>{errors.iter().map(|(field, m)| {
                    let text = match questions.iter().find(|q| q.field() == field) {
                        Some(q) => format!("{}: {m}", q.label),
                        None => m.to_owned(),
                    };
                    view! { <li>{text}</li> }
                }).collect_view()}</ul>
            </div>
        }
    });
    view! {
        <form class="apply" method="post" action=action>
            <h2>{if invited { "Accept your invitation" } else { "Apply to join" }}</h2>
            {invited.then(|| view! { <p class="muted">"You were invited to this program. Check your details, read the terms and accept them to join."</p> })}
            {summary}
            {invite.map(|token| view! { <input type="hidden" name="invite" value=token/> })}
            <label for="name">"Full name"</label>
            <input id="name" name="name" autocomplete="name" required value=values.name.clone()
                aria-invalid=invalid("name") aria-describedby=described("name")/>
            {error("name")}
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" required value=values.email.clone()
                readonly=invited aria-invalid=invalid("email") aria-describedby=described("email")/>
            {error("email")}
            <label for="website">"Website or social handle (optional)"</label>
            <input id="website" name="website" value=values.website.clone() aria-invalid=invalid("website")/>
            {error("website")}
            <label for="message">"Message (optional)"</label>
            // Leptos leaves text inside <textarea> unescaped, so escape it here: typed input must not end the element.
            <textarea id="message" name="message" rows="3" aria-invalid=invalid("message") inner_html=escape_html(&values.message)></textarea>
            {error("message")}
            {(!invited).then(|| questions.into_iter().map(|q| view! { <QuestionField q values=values.clone() errors=errors.clone()/> }).collect_view())}
            <input type="hidden" name="terms_version" value=terms_version.to_string()/>
            <div class="hp" aria-hidden="true">
                <label for="rk_trap">"Leave this field empty"</label>
                <input id="rk_trap" name="rk_trap" tabindex="-1" autocomplete="off"/>
            </div>
            <details class="terms" open>
                <summary>{format!("Program terms (version {terms_version})")}</summary>
                <div class="terms-text">{paragraphs(&terms)}</div>
            </details>
            <label class="check">
                <input type="checkbox" name="accept_terms" id="accept_terms" checked=values.accept_terms.is_some()
                    aria-invalid=invalid("accept_terms")/>
                " I accept the program terms"
            </label>
            {error("accept_terms")}
            <button type="submit">{if invited { "Accept and join" } else { "Apply" }}</button>
        </form>
    }
}

/// One of the campaign's own questions as a plain form field, with what was typed and what was
/// wrong.
#[component]
fn QuestionField(q: Question, values: ApplicationForm, errors: FieldErrors) -> impl IntoView {
    let field = q.field();
    let value = values.answers.get(&field).cloned().unwrap_or_default();
    let error = errors.get(&field).map(str::to_owned);
    let invalid = error.is_some().then_some("true");
    let described = error.as_ref().map(|_| format!("{field}-error"));
    let label = if q.required { q.label.clone() } else { format!("{} (optional)", q.label) };
    let input = match q.kind {
        QuestionKind::ShortText => view! {
            <label for=field.clone()>{label}</label>
            <input id=field.clone() name=field.clone() value=value maxlength="200" aria-invalid=invalid aria-describedby=described/>
        }
        .into_any(),
        QuestionKind::LongText => view! {
            <label for=field.clone()>{label}</label>
            <textarea id=field.clone() name=field.clone() rows="3" aria-invalid=invalid aria-describedby=described
                inner_html=escape_html(&value)></textarea>
        }
        .into_any(),
        QuestionKind::Choice => view! {
            <label for=field.clone()>{label}</label>
            <select id=field.clone() name=field.clone() aria-invalid=invalid aria-describedby=described>
                <option value="" selected=value.is_empty()>"Choose…"</option>
                {q.choices.into_iter().map(|c| {
                    let selected = c == value;
                    let text = c.clone();
                    view! { <option value=c selected=selected>{text}</option> }
                }).collect_view()}
            </select>
        }
        .into_any(),
        QuestionKind::Checkbox => view! {
            <label class="check">
                <input type="checkbox" id=field.clone() name=field.clone() checked=!value.is_empty()
                    aria-invalid=invalid aria-describedby=described/>
                " "{label}
            </label>
        }
        .into_any(),
    };
    view! {
        {input}
        {error.map(|m| view! { <p class="field-error" id=format!("{field}-error")>{m}</p> })}
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn paragraphs(text: &str) -> impl IntoView {
    text.split("\n\n").map(|p| view! { <p>{p.to_owned()}</p> }).collect_view()
}
