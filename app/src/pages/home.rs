use crate::pages::session::use_session;
use leptos::prelude::*;

#[component]
pub fn Home() -> impl IntoView {
    let session = use_session();
    view! {
        <main class="narrow hero">
            <h1>"Rekomi"</h1>
            <p class="lead">
                "Affiliate programs for Shopify shops that live in Klaviyo. Affiliates apply on your page, "
                "you approve them in one click, and they land in your Klaviyo list within seconds."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.0.await {
                        Ok(Some(s)) => view! {
                            <p>"Signed in to "<strong>{s.merchant_name}</strong>". "
                               <a class="button" href="/app">"Open your dashboard"</a></p>
                        }.into_any(),
                        _ => view! {
                            <p class="actions">
                                <a class="button" href="/signup">"Create a merchant account"</a>
                                <a class="button secondary" href="/login">"Log in"</a>
                            </p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
