//! Plain axum routes and request middleware around the Leptos app.

pub mod api_v1;
pub mod client_ip;
pub mod health;
pub mod imports;
pub mod join;
pub mod portal;
pub mod same_origin;
pub mod sync_events;
pub mod tracking;
pub mod webhooks;
