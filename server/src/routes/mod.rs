//! Plain axum routes and request middleware around the Leptos app.

pub mod api_v1;
pub mod client_ip;
pub mod downloads;
pub mod health;
pub mod imports;
pub mod join;
pub mod portal;
pub mod same_origin;
pub mod sync_events;
pub mod tracking;
pub mod webhooks;

use axum::http::{header, HeaderMap};

/// The value of the request's cookie `name`, if it has a non-empty one.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v)
}
