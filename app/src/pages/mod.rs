//! One module a page; `join` is the public landing page the server renders without the SPA.

pub mod affiliate;
pub mod auth;
pub mod branding;
pub mod campaigns;
pub mod directory;
pub mod discounts;
pub mod home;
pub mod import;
pub mod integrations;
pub mod invites;
pub mod join;
pub mod klaviyo;
pub mod layout;
pub mod not_found;
pub mod overview;
pub mod payouts;
pub mod portal;
pub mod queue;
pub mod reports;
pub mod session;
pub mod shopify;
pub mod tracking;
