//! Form feedback: a banner for the whole form and a message under each field.

use crate::error::AppError;
use leptos::prelude::*;

/// The message under a field, when the last submission had an error for it. It also marks the
/// field's input (`input`, the field's name unless given) invalid and points it at the message, and
/// moves focus to the form's first invalid input, so "correct the highlighted fields" always has
/// something highlighted and a keyboard or screen-reader user lands on it.
#[component]
pub fn FieldError(
    error: Signal<Option<AppError>>,
    field: &'static str,
    #[prop(optional, into)] input: Option<String>,
) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.fields.get(field).map(str::to_owned));
    let input = input.unwrap_or_else(|| field.to_owned());
    let message_id = format!("{field}-error");
    Effect::new({
        let message_id = message_id.clone();
        move || mark_invalid(&input, &message_id, message().is_some())
    });
    view! {
        <Show when=move || message().is_some()>
            <p class="field-error" id=message_id.clone() role="alert">{message}</p>
        </Show>
    }
}

/// Marks the input `id` (in)valid in the DOM. The inputs are plain elements of each form, so this
/// one place keeps every form's highlighting and focus in step with its messages.
#[cfg(feature = "hydrate")]
fn mark_invalid(id: &str, message_id: &str, invalid: bool) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Some(element) = document.get_element_by_id(id) else { return };
    if !invalid {
        // Only what this message set: another description of the input stays.
        if element.get_attribute("aria-describedby").as_deref() == Some(message_id) {
            let _ = element.remove_attribute("aria-describedby");
            let _ = element.remove_attribute("aria-invalid");
        }
        return;
    }
    let _ = element.set_attribute("aria-invalid", "true");
    let _ = element.set_attribute("aria-describedby", message_id);
    // After this render: the first invalid input of the same form takes the focus (and scrolls
    // into view), whichever field's effect runs first.
    let form = element.closest("form").ok().flatten();
    request_animation_frame(move || {
        let first = match &form {
            Some(form) => form.query_selector("[aria-invalid=\"true\"]").ok().flatten(),
            None => Some(element),
        };
        if let Some(first) = first.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = first.focus();
        }
    });
}

#[cfg(not(feature = "hydrate"))]
fn mark_invalid(_id: &str, _message_id: &str, _invalid: bool) {}

/// The error of the last submission as a sentence, when it is not about one field only.
#[component]
pub fn ErrorBanner(error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        {move || error.get().map(|e| view! { <div class="banner error" role="alert">{e.message}</div> })}
    }
}

/// The toast for a finished action: `done` on success; failures stay in the form's own messages.
pub fn toast_on_success<T: Clone + Send + Sync + 'static>(
    action: Action<impl Send + Sync + 'static, Result<T, AppError>>,
    done: impl Fn(&T) -> String + 'static,
) {
    let toasts = crate::components::toast::use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(value)) = action.value().get() {
            toasts.success(done(&value));
        }
    });
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
