//! The browser entry point of the organization side (/org/...), built for wasm32 by Trunk
//! (`app/org.html`). A separate bundle, so the user-facing pages (and the
//! consent screen) never download it.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    keyhouse_app::remove_first_paint();
    leptos::mount::mount_to_body(keyhouse_app::OrgApp);
}

/// Only the wasm32 build has a browser to mount into.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("this bundle runs in the browser: build it with scripts/build-app.sh");
}
