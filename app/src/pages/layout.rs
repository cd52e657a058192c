//! The frame around every merchant page: navigation, who is signed in, and the sign-in guard.

use crate::api::accounts::log_out;
use crate::pages::session::use_session;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_navigate;

#[component]
pub fn MerchantLayout() -> impl IntoView {
    let session = use_session();
    crate::components::live_sync::provide_live_sync();
    let logout = Action::new(|_: &()| log_out());
    let navigate = use_navigate();
    Effect::new(move || {
        if logout.value().get().is_some() {
            session.0.refetch();
            navigate("/login", Default::default());
        }
    });
    // Only the top bar waits for the session. The page (the `Outlet`) sits outside that Suspense:
    // inside it, every re-run of the session closure built the page again, and a resource of the
    // discarded copy could be dropped before it resolved, which left the server's HTML stream open
    // for ever. Signed-out visitors never get here on a first load (the server redirects `/app/…`
    // to `/login`); the redirect below covers a session that ends while the app is open.
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match session.0.await {
                    Ok(Some(s)) => view! {
                        <header class="topbar">
                            <nav>
                                <span class="brand">"Rekomi"</span>
                                <A href="/app" exact=true>"Campaigns"</A>
                                <A href="/app/queue">"Approval queue"</A>
                                <A href="/app/invites">"Invites"</A>
                                <A href="/app/import">"Import"</A>
                                <A href="/app/results">"Results"</A>
                                <A href="/app/payouts">"Payouts"</A>
                                <A href="/app/tracking">"Tracking"</A>
                                <A href="/app/integrations">"Integrations"</A>
                                <A href="/app/klaviyo">"Klaviyo"</A>
                            </nav>
                            <div class="who">
                                <span class="shop">{s.merchant_name}</span>
                                <span class="muted">{s.user_email}</span>
                                <button class="link" on:click=move |_| { logout.dispatch(()); }>"Log out"</button>
                            </div>
                        </header>
                    }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Suspense>
        <main class="page"><Outlet/></main>
    }
}
