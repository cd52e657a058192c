//! Rekomi's server: configuration, persistence, domain services and the HTTP surface.

pub mod config;
pub mod routes;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
