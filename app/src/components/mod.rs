//! Small pieces several pages use.

pub mod affiliate_earnings;
pub mod campaign_select;
pub mod chart;
pub mod form;
pub mod live_sync;
pub mod state_badge;
pub mod streaming;
pub mod sync_panel;
