//! Rekomi's server: configuration, persistence, domain services and the HTTP surface.

pub mod clock;
pub mod config;
pub mod klaviyo;
pub mod links;
pub mod outbox;
pub mod routes;
pub mod secrets;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tracking;
