//! Klaviyo's REST API as Rekomi uses it, pinned to one revision. [`operation`] is the table of calls
//! (path, scopes, rate limits) that the client and the fake Klaviyo share; [`wire`] holds the typed
//! bodies; [`error`] turns every kind of refusal into one enum.

pub mod client;
pub mod error;
pub mod operation;
pub mod pace;
pub mod retry;
pub mod wire;

pub use client::{Client, Cursor, Page};
pub use error::KlaviyoError;
pub use operation::{ApiScope, Operation};

/// The API revision every request names (`revision` header).
pub const REVISION: &str = "2026-07-15";

/// Where Klaviyo answers unless `KLAVIYO_API_BASE` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://a.klaviyo.com";

/// The JSON:API media type the spec declares for requests and answers.
pub const JSON_API: &str = "application/vnd.api+json";
