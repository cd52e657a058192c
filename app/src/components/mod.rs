//! Small pieces several pages use.

pub mod campaign_select;
pub mod form;
pub mod live_sync;
pub mod state_badge;
pub mod streaming;
pub mod sync_panel;
