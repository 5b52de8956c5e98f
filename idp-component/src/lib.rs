//! `IdentityProvider` and `B2BIdentityProvider`: the Leptos components mounted
//! at `/idp`. They call the backend in `keyhouse-axum` through the wire types
//! of `keyhouse-types`. Until the component lands this crate is intentionally
//! empty.
