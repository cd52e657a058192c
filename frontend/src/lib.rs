//! The wasm entry: hydrate the server-rendered merchant app and nothing else.
// The import page's view type is deep enough to pass the default limit when hydrated.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // `hydrate_lazy`: a lazy route's chunk is loaded before its part of the page is hydrated.
    leptos::mount::hydrate_lazy(app::App);
}
