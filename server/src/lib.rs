//! Rekomi's server: configuration, the HTTP surface (routes, the REST API, webhooks, the Leptos app)
//! and start-up. The use cases live in the `backend` crate, re-exported here under their old paths.

pub mod config;
pub mod routes;
pub mod startup;

pub use backend::{clock, klaviyo, links, outbox, secrets, services, shopify, store, telemetry, tracking};
