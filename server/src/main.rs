//! `keyhouse`: the server and its command line.
//!
//! Every command takes `--database-url` (env `DATABASE_URL`, default the
//! SQLite file `data/keyhouse.db`); the database is migrated on first use.

mod cli;
mod mcp;
mod notes_api;
mod settings;
mod web;

use std::process::ExitCode;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use clap::Parser;
use keyhouse_app::server::{AppContext, NotesStore};
use keyhouse_axum::Keyhouse;

/// The whole server: Keyhouse's routes, the app's API for agents and its
/// server functions, and the built app for everything else.
pub fn app(kh: Keyhouse, notes: NotesStore, web: Option<web::WebApp>) -> Router {
    // A user who deletes their account takes their notes with them.
    let owned = notes.clone();
    let kh = kh.on_account_deleted(move |user_id| {
        let notes = owned.clone();
        async move {
            let n = notes
                .delete_all_of_user(&user_id)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(%user_id, notes = n, "a deleted account's notes deleted");
            Ok(())
        }
    });
    let security_headers = kh.security_headers();
    let kh_for_pages = kh.clone();
    let ctx = AppContext {
        kh: kh.clone(),
        notes: notes.clone(),
    };
    let routes = Router::new()
        .merge(kh.router())
        .merge(
            mcp::router(notes_api::NotesState {
                kh: kh.clone(),
                notes: notes.clone(),
            })
            .unwrap_or_default(),
        )
        .merge(notes_api::router(notes_api::NotesState { kh, notes }))
        .merge(keyhouse_app::server::server_fn_router(ctx))
        .fallback(web::fallback)
        .with_state(web.map(|w| w.serving(kh_for_pages)));
    keyhouse_axum::http::request_id::with_request_ids(routes)
        .layer(DefaultBodyLimit::max(keyhouse_axum::BODY_LIMIT))
        // On every response; the app's HTML page sets its own CSP (with the
        // hash of Trunk's loader), which the layer leaves alone.
        .layer(security_headers)
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli::log_format(&args) {
        settings::LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        settings::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
