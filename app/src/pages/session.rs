//! The signed-in session, shared by every page through context.

use crate::api::accounts::current_session;
use crate::api::views::SessionView;
use crate::error::AppError;
use leptos::prelude::*;

/// A resource with the current session; refetch it after logging in or out.
#[derive(Clone, Copy)]
pub struct Session(pub Resource<Result<Option<SessionView>, AppError>>);

pub fn provide_session() {
    let resource = Resource::new(|| (), |_| current_session());
    provide_context(Session(resource));
}

pub fn use_session() -> Session {
    // `App` provides it to every page; a component rendered outside `App` (a test, a story) still
    // works, with a session resource of its own.
    use_context::<Session>().unwrap_or_else(|| Session(Resource::new(|| (), |_| current_session())))
}
