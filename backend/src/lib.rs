//! Rekomi's use cases and what they stand on. `services` holds one module per area; each use case
//! opens its transaction, calls `store` functions (SQL only), applies the rules in
//! `shared::domain`, enqueues side effects in the `outbox`, and commits. The `server` crate's routes
//! and the `app` crate's server functions call the services directly.

pub mod clock;
pub mod klaviyo;
pub mod links;
pub mod outbox;
pub mod secrets;
pub mod services;
pub mod shopify;
pub mod store;
pub mod telemetry;
pub mod tracking;
