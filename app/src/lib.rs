//! Rekomi's web app: the merchant SPA (server-rendered, then hydrated), the public landing page
//! component, the server functions, and the domain types both sides share.

pub mod api;
#[cfg(feature = "ssr")]
pub mod assets;
pub mod components;
pub mod pages;

pub use shared::{domain, error};

use leptos::prelude::*;
#[cfg(feature = "ssr")]
use leptos_meta::MetaTags;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the merchant app. The stylesheet is linked here, in the part that is
/// rendered on the server only, because its (hashed) name is known only there.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = assets::stylesheet_href(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href=stylesheet/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    pages::session::provide_session();
    view! {
        <Title text="Rekomi"/>
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/") view=pages::home::Home/>
                <Route path=path!("/signup") view=pages::auth::SignUp/>
                <Route path=path!("/login") view=pages::auth::LogIn/>
                <ParentRoute path=path!("/app") view=pages::layout::MerchantLayout>
                    <Route path=path!("") view=pages::campaigns::CampaignList/>
                    <Route path=path!("campaigns/new") view=pages::campaigns::NewCampaign/>
                    <Route path=path!("campaigns/:id") view=pages::campaigns::EditCampaign/>
                    <Route path=path!("queue") view=pages::queue::ApprovalQueue/>
                    <Route path=path!("affiliates/:id") view=pages::affiliate::AffiliatePage/>
                    <Route path=path!("klaviyo") view=pages::klaviyo::KlaviyoSettings/>
                    <Route path=path!("invites") view=pages::invites::InvitesPage/>
                    <Route path=path!("import") view=pages::import::ImportPage/>
                    <Route path=path!("results") view=pages::reports::ReportsPage/>
                    <Route path=path!("tracking") view=pages::tracking::TrackingPage/>
                    <Route path=path!("payouts") view=pages::payouts::PayoutsPage/>
                    <Route path=path!("integrations") view=pages::integrations::IntegrationsPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
