//! The binary's integration tests, one test binary (linking one per file
//! cost minutes of every CI run). Run one module with
//! `cargo test -p keyhouse --test it -- mcp::`. `otlp` needs the feature:
//! `cargo test -p keyhouse --features otlp --test it otlp`.

mod common;

mod admin;
mod agent_settings;
mod b2b;
mod backup;
mod cli;
mod cluster;
mod config;
mod consent_page;
mod crash;
mod lifecycle;
mod mcp;
mod notes_api;
mod observability;
mod otlp;
