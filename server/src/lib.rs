//! Rekomi's server: configuration, persistence, domain services and the HTTP surface.

pub mod config;
pub mod fake_klaviyo;
pub mod klaviyo;
pub mod links;
pub mod outgoing;
pub mod routes;
pub mod secrets;
pub mod services;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tracking;
