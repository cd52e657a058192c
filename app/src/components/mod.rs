//! Small pieces several pages use.

pub mod form;
pub mod state_badge;
