use crate::domain::AffiliateState;
use leptos::prelude::*;

#[component]
pub fn StateBadge(state: AffiliateState) -> impl IntoView {
    view! { <span class=format!("badge {}", state.as_str())>{state.label()}</span> }
}
