//! The backend's integration tests, one binary (linking one per file cost
//! minutes of every CI run). Each module is one concern; run one with
//! `cargo test -p keyhouse-axum --test it -- token::`.

mod common;

mod account;
mod agents;
mod authorize;
mod catalogue;
mod consent_form;
mod discovery;
mod email_sign_in;
mod hardening;
mod id_token_alg;
mod instances;
mod interop_openidconnect;
mod join_by_domain;
mod limits;
mod logout;
mod member_email;
mod member_passkeys;
mod member_second_factor;
mod operators;
mod organization_members;
mod own_users;
mod passkeys;
mod passwords;
mod second_factor;
mod session;
mod sso;
mod throttling;
mod token;
mod tokens_endpoints;
