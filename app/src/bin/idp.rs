//! The browser entry point of the consent page `/idp` (`app/idp.html`): its own bundle, so a person
//! sent by an agent downloads only the consent screen and its frame.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    keyhouse_app::remove_first_paint();
    leptos::mount::mount_to_body(keyhouse_app::IdpApp);
}

/// Only the wasm32 build has a browser to mount into.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("this bundle runs in the browser: build it with scripts/build-app.sh");
}
