//! The wasm entry: hydrate the server-rendered merchant app and nothing else.
// The import page's view type is deep enough to pass the default limit when hydrated.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
