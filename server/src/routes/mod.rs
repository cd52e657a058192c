//! Plain axum routes and request middleware around the Leptos app.

pub mod client_ip;
pub mod health;
pub mod imports;
pub mod join;
pub mod same_origin;
pub mod sync_events;
