//! What the merchant app in the browser and the server both hold: the domain (types that parse at
//! the boundary, and the rules that move them), the views server functions answer with, and the
//! error they share. Nothing here does I/O.

pub mod domain;
pub mod error;
pub mod views;
