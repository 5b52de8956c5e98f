//! A Leptos islands app: every page is rendered on the server and only the
//! `#[island]`s ship to the browser. Laid out as the start-axum template
//! lays it out: `app.rs` (the shell, the routes and the islands), `lib.rs`
//! (the browser's entry point), `main.rs` (the server).
// Built with neither feature (as `cargo build --workspace` builds it, so
// that `leptos/islands` stays out of the other crates), the app is empty.
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod app;

/// The browser's entry point: hydrates the islands the server rendered,
/// and nothing else.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
