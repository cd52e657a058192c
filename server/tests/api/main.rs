//! Integration tests: the real server on a random port, each test with its own database
//! (a temporary SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set).

mod accounts;
mod branding;
mod campaigns;
mod discounts;
mod helpers;
mod imports;
mod invites;
mod isolation;
mod klaviyo;
mod landing;
mod payouts;
mod queue;
mod shop;
mod sync;
mod tracking;
