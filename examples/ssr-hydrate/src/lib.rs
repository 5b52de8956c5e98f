//! A Leptos app rendered on the server and hydrated in the browser, laid
//! out as the start-axum template lays it out: `app.rs` (the routes, shared
//! by both halves), `lib.rs` (the browser's entry point), `main.rs` (the
//! server).
pub mod app;

/// The browser's entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
