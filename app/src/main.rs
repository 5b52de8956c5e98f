//! The browser entry point (built for wasm32 by Trunk).

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    keyhouse_app::remove_first_paint();
    leptos::mount::mount_to_body(keyhouse_app::App);
}

/// Only the wasm32 build has a browser to mount into.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("keyhouse-app runs in the browser: build it with `trunk build` (see README.md)");
}
