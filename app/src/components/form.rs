//! Form feedback: a banner for the whole form and a message under each field.

use crate::error::AppError;
use leptos::prelude::*;

/// The message under a field, when the last submission had an error for it.
#[component]
pub fn FieldError(error: Signal<Option<AppError>>, field: &'static str) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.fields.get(field).map(str::to_owned));
    view! {
        <Show when=move || message().is_some()>
            <p class="field-error" id=format!("{field}-error") role="alert">{message}</p>
        </Show>
    }
}

/// The error of the last submission as a sentence, when it is not about one field only.
#[component]
pub fn ErrorBanner(error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        {move || error.get().map(|e| view! { <div class="banner error" role="alert">{e.message}</div> })}
    }
}

/// Shown when scripts are off: the merchant app needs them. Its forms have no `method` and their
/// inputs no `name`, so a submit before the app has loaded is a harmless reload of the same page:
/// nothing typed, the password least of all, ends up in a URL or a request body.
#[component]
pub fn NeedsJavascript() -> impl IntoView {
    view! {
        <noscript>
            <div class="banner error">"Rekomi's merchant dashboard needs JavaScript. Please turn it on for this site."</div>
        </noscript>
    }
}
