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
use leptos_router::{lazy_route, path, Lazy, LazyRoute};

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
                <Route path=path!("/signup") view={Lazy::<SignUpRoute>::new()}/>
                <Route path=path!("/login") view={Lazy::<LogInRoute>::new()}/>
                <ParentRoute path=path!("/app") view=pages::layout::MerchantLayout>
                    <Route path=path!("") view={Lazy::<HomeRoute>::new()}/>
                    <Route path=path!("campaigns") view=pages::campaigns::CampaignList/>
                    <Route path=path!("campaigns/new") view={Lazy::<NewCampaignRoute>::new()}/>
                    <Route path=path!("campaigns/:id") view={Lazy::<EditCampaignRoute>::new()}/>
                    <Route path=path!("queue") view={Lazy::<QueueRoute>::new()}/>
                    <Route path=path!("affiliates") view={Lazy::<DirectoryRoute>::new()}/>
                    <Route path=path!("affiliates/:id") view={Lazy::<AffiliateRoute>::new()}/>
                    <Route path=path!("klaviyo") view={Lazy::<KlaviyoRoute>::new()}/>
                    <Route path=path!("invites") view={Lazy::<InvitesRoute>::new()}/>
                    <Route path=path!("import") view={Lazy::<ImportRoute>::new()}/>
                    <Route path=path!("results") view={Lazy::<ResultsRoute>::new()}/>
                    <Route path=path!("shopify") view={Lazy::<ShopifyRoute>::new()}/>
                    <Route path=path!("tracking") view={Lazy::<TrackingRoute>::new()}/>
                    <Route path=path!("payouts") view={Lazy::<PayoutsRoute>::new()}/>
                    <Route path=path!("integrations") view={Lazy::<IntegrationsRoute>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Declares a page as a lazy route: with `cargo leptos build --split` its code (and whatever only it
/// uses) leaves the main wasm for a chunk the browser fetches when the page is first shown, so the
/// first load of the merchant app carries the shell and the campaign list only. The server renders
/// every page as before and names the chunks a page needs in `<link rel="modulepreload">`, so a
/// reload hydrates without waiting for a second round trip.
macro_rules! lazy_pages {
    ($($route:ident => $page:path;)*) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                let page = $page().into_any();
                pages::layout::page_ready();
                page
            }
        }
    )*};
}

lazy_pages! {
    HomeRoute => pages::overview::Home;
    SignUpRoute => pages::auth::SignUp;
    LogInRoute => pages::auth::LogIn;
    NewCampaignRoute => pages::campaigns::NewCampaign;
    EditCampaignRoute => pages::campaigns::EditCampaign;
    QueueRoute => pages::queue::ApprovalQueue;
    DirectoryRoute => pages::directory::AffiliateDirectory;
    AffiliateRoute => pages::affiliate::AffiliatePage;
    KlaviyoRoute => pages::klaviyo::KlaviyoSettings;
    InvitesRoute => pages::invites::InvitesPage;
    ImportRoute => pages::import::ImportPage;
    ResultsRoute => pages::reports::ReportsPage;
    ShopifyRoute => pages::shopify::ShopifyPage;
    TrackingRoute => pages::tracking::TrackingPage;
    PayoutsRoute => pages::payouts::PayoutsPage;
    IntegrationsRoute => pages::integrations::IntegrationsPage;
}
