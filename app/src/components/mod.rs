//! Small pieces several pages use.

pub mod affiliate_earnings;
pub mod campaign_select;
pub mod chart;
pub mod form;
pub mod live_sync;
pub mod state_badge;
pub mod streaming;
pub mod sync_panel;
pub mod toast;

/// "1 application", "3 applications": a count with its noun, never "application(s)".
pub fn count_of(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Puts `text` on the clipboard (in the browser; nothing on the server).
pub fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = leptos::prelude::window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// An applicant's answers to the campaign's own questions.
#[leptos::component]
pub fn Answers(answers: Vec<(String, String)>) -> impl leptos::IntoView {
    use leptos::prelude::*;
    view! {
        <dl class="answers" data-testid="answers">
            {answers.into_iter().map(|(q, a)| view! { <dt>{q}</dt><dd>{a}</dd> }).collect_view()}
        </dl>
    }
}
