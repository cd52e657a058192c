//! Small pieces several pages use.

pub mod affiliate_earnings;
pub mod campaign_select;
pub mod chart;
pub mod form;
pub mod live_sync;
pub mod state_badge;
pub mod streaming;
pub mod sync_panel;
pub mod toast;

/// "1 application", "3 applications": a count with its noun, never "application(s)".
pub fn count_of(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
