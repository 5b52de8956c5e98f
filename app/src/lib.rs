//! The example Leptos application that embeds the Keyhouse identity-provider
//! component. It is built by Trunk (`Trunk.toml`) once the component lands;
//! until then this crate is intentionally empty and nothing serves it.
