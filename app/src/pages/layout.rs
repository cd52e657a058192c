//! The frame around every merchant page: grouped navigation that collapses behind a button on a
//! phone, the current place, who is signed in, the toasts, and the sign-in guard.

use crate::api::accounts::log_out;
use crate::components::toast::{provide_toasts, ToastRegion};
use crate::pages::session::use_session;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect};
use leptos_router::hooks::{use_location, use_navigate};

/// One navigation entry: its label, where it goes, and the other paths that belong to it (an
/// affiliate's page is part of the queue, a campaign's editor part of the campaigns).
struct NavItem {
    label: &'static str,
    href: &'static str,
    also: &'static [&'static str],
}

const NAV: &[(&str, &[NavItem])] = &[
    (
        "Program",
        &[
            NavItem { label: "Home", href: "/app", also: &[] },
            NavItem { label: "Campaigns", href: "/app/campaigns", also: &["/app/campaigns/"] },
            NavItem { label: "Approval queue", href: "/app/queue", also: &[] },
            NavItem { label: "Affiliates", href: "/app/affiliates", also: &["/app/affiliates/"] },
            NavItem { label: "Invites", href: "/app/invites", also: &[] },
            NavItem { label: "Import", href: "/app/import", also: &[] },
        ],
    ),
    (
        "Money",
        &[
            NavItem { label: "Results", href: "/app/results", also: &[] },
            NavItem { label: "Payouts", href: "/app/payouts", also: &[] },
        ],
    ),
    (
        "Settings",
        &[
            NavItem { label: "Klaviyo", href: "/app/klaviyo", also: &[] },
            NavItem { label: "Shopify", href: "/app/shopify", also: &[] },
            NavItem { label: "Shop & tracking", href: "/app/tracking", also: &[] },
            NavItem { label: "Integrations & API", href: "/app/integrations", also: &[] },
        ],
    ),
];

impl NavItem {
    fn is_current(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        path == self.href || self.also.iter().any(|prefix| path.starts_with(prefix))
    }
}

/// The label of the entry the path belongs to, shown next to the menu button on a phone.
fn current_label(path: &str) -> &'static str {
    NAV.iter().flat_map(|(_, items)| items.iter()).find(|i| i.is_current(path)).map_or("Rekomi", |i| i.label)
}

/// Whether the page in the frame is live: hydrated, its handlers attached. Until then the page is
/// `inert`, so nothing typed or clicked while the browser is still loading the page's code (a lazy
/// route's chunk arrives after the page is visible) is silently lost.
#[derive(Debug, Clone, Copy)]
pub struct PageReady(RwSignal<bool>);

/// Called by each page in the frame when it is created: once it is mounted (in the browser, after
/// hydration) the frame stops being inert. Effects never run on the server, so the server's HTML is
/// inert until the page is live.
pub fn page_ready() {
    if let Some(PageReady(ready)) = use_context::<PageReady>() {
        Effect::new(move || ready.set(true));
    }
}

#[component]
pub fn MerchantLayout() -> impl IntoView {
    let session = use_session();
    let ready = RwSignal::new(false);
    provide_context(PageReady(ready));
    // A page that never reports (an error while it loads) must not stay locked.
    Effect::new(move || {
        set_timeout(move || ready.set(true), std::time::Duration::from_secs(8));
    });
    crate::components::live_sync::provide_live_sync();
    provide_toasts();
    let logout = Action::new(|_: &()| log_out());
    let navigate = use_navigate();
    Effect::new(move || {
        if logout.value().get().is_some() {
            session.0.refetch();
            navigate("/login", Default::default());
        }
    });
    let location = use_location();
    let path = location.pathname;
    // The phone menu: closed on every navigation, so a tapped link shows its page, not the menu.
    let menu_open = RwSignal::new(false);
    Effect::new(move || {
        path.track();
        menu_open.set(false);
    });
    let nav = move || {
        NAV.iter()
            .map(|(group, items)| {
                let heading_id = format!("nav-{}", group.to_lowercase());
                let labelled_by = heading_id.clone();
                view! {
                    <div class="nav-group" role="group" aria-labelledby=labelled_by>
                        <p class="nav-heading" id=heading_id>{*group}</p>
                        {items.iter().map(|item| {
                            let current = move || path.with(|p| item.is_current(p)).then_some("page");
                            view! { <a href=item.href aria-current=current>{item.label}</a> }
                        }).collect_view()}
                    </div>
                }
            })
            .collect_view()
    };
    // Only the account box waits for the session. The page (the `Outlet`) sits outside that
    // Suspense: inside it, every re-run of the session closure built the page again, and a resource
    // of the discarded copy could be dropped before it resolved, which left the server's HTML
    // stream open for ever. Signed-out visitors never get here on a first load (the server
    // redirects `/app/…` to `/login`); the redirect below covers a session that ends while the app
    // is open.
    view! {
        <div class="frame">
            <header class="sidebar" class:open=move || menu_open.get()>
                <div class="bar">
                    <a class="brand" href="/app">"Rekomi"</a>
                    <span class="here" aria-hidden="true">{move || path.with(|p| current_label(p))}</span>
                    <button
                        type="button"
                        class="menu-button secondary"
                        aria-controls="main-nav"
                        aria-expanded=move || if menu_open.get() { "true" } else { "false" }
                        on:click=move |_| menu_open.update(|open| *open = !*open)
                    >
                        "Menu"
                    </button>
                </div>
                <div class="drawer">
                    <nav id="main-nav" aria-label="Main">{nav}</nav>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            match session.0.await {
                                Ok(Some(s)) => view! {
                                    <div class="who">
                                        <span class="shop">{s.merchant_name}</span>
                                        <span class="muted small">{s.user_email}</span>
                                        <button type="button" class="link" on:click=move |_| { logout.dispatch(()); }>
                                            "Log out"
                                        </button>
                                    </div>
                                }.into_any(),
                                Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                                Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                            }
                        })}
                    </Suspense>
                </div>
            </header>
            <main class="page" inert=move || !ready.get() aria-busy=move || (!ready.get()).then_some("true")>
                <Outlet/>
            </main>
        </div>
        <ToastRegion/>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_belongs_to_one_entry() {
        assert_eq!(current_label("/app"), "Home");
        assert_eq!(current_label("/app/"), "Home");
        assert_eq!(current_label("/app/campaigns"), "Campaigns");
        assert_eq!(current_label("/app/campaigns/12"), "Campaigns");
        assert_eq!(current_label("/app/affiliates/3"), "Affiliates");
        assert_eq!(current_label("/app/tracking"), "Shop & tracking");
        let entries = NAV.iter().flat_map(|(_, items)| items.iter());
        for path in [
            "/app",
            "/app/campaigns",
            "/app/affiliates",
            "/app/queue",
            "/app/payouts",
            "/app/klaviyo",
            "/app/campaigns/new",
        ] {
            assert_eq!(entries.clone().filter(|i| i.is_current(path)).count(), 1, "{path}");
        }
    }
}
