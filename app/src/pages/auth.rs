//! Sign up and log in.

use crate::api::accounts::{log_in, sign_up};
use crate::components::form::{ErrorBanner, FieldError, NeedsJavascript};
use crate::error::AppError;
use crate::pages::session::use_session;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

/// After a successful sign-in: reload the session everywhere and open the dashboard.
fn enter_app() -> impl Fn() + Clone {
    let session = use_session();
    let navigate = use_navigate();
    move || {
        session.0.refetch();
        navigate("/app", Default::default());
    }
}

#[component]
pub fn SignUp() -> impl IntoView {
    let shop_name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new(|(shop, email, password): &(String, String, String)| {
        sign_up(shop.clone(), email.clone(), password.clone())
    });
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let done = enter_app();
    Effect::new(move || {
        if matches!(action.value().get(), Some(Ok(_))) {
            done();
        }
    });
    view! {
        <Title text="Create your account · Rekomi"/>
        <main class="narrow">
            <h1>"Create your merchant account"</h1>
            <NeedsJavascript/>
            <form on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch((shop_name.get_untracked(), email.get_untracked(), password.get_untracked()));
            }>
                <ErrorBanner error/>
                <label for="shop_name">"Shop name"</label>
                <input id="shop_name" autocomplete="organization" required bind:value=shop_name/>
                <FieldError error field="shop_name"/>
                <label for="email">"Email"</label>
                <input id="email" type="email" autocomplete="email" required bind:value=email/>
                <FieldError error field="email"/>
                <label for="password">"Password"</label>
                <input id="password" type="password" autocomplete="new-password" required bind:value=password/>
                <p class="hint">"At least 10 characters."</p>
                <FieldError error field="password"/>
                <button type="submit" disabled=move || action.pending().get()>"Create account"</button>
            </form>
            <p>"Already have an account? "<a href="/login">"Log in"</a></p>
        </main>
    }
}

#[component]
pub fn LogIn() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new(|(email, password): &(String, String)| log_in(email.clone(), password.clone()));
    let error: Signal<Option<AppError>> = Signal::derive(move || action.value().get().and_then(Result::err));
    let done = enter_app();
    Effect::new(move || {
        if matches!(action.value().get(), Some(Ok(_))) {
            done();
        }
    });
    view! {
        <Title text="Log in · Rekomi"/>
        <main class="narrow">
            <h1>"Log in"</h1>
            <NeedsJavascript/>
            <form on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch((email.get_untracked(), password.get_untracked()));
            }>
                <ErrorBanner error/>
                <label for="email">"Email"</label>
                <input id="email" type="email" autocomplete="email" required bind:value=email/>
                <label for="password">"Password"</label>
                <input id="password" type="password" autocomplete="current-password" required bind:value=password/>
                <button type="submit" disabled=move || action.pending().get()>"Log in"</button>
            </form>
            <p>"New to Rekomi? "<a href="/signup">"Create an account"</a></p>
        </main>
    }
}
