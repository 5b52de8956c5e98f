//! `keyhouse`: the server and its command line.
//!
//! Every command takes `--database-url` (env `DATABASE_URL`, default the
//! SQLite file `data/keyhouse.db`); the database is migrated on first use.

mod cli;
mod mcp;
mod notes_api;
mod settings;
#[cfg(feature = "otlp")]
mod traces;
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
    #[cfg(feature = "otlp")]
    let routes = traces::label(routes);
    let routes = keyhouse_axum::http::request_id::with_request_ids(routes);
    #[cfg(feature = "otlp")]
    let routes = traces::parent_from_headers(routes);
    routes
        .layer(DefaultBodyLimit::max(keyhouse_axum::BODY_LIMIT))
        // On every response; the app's HTML page sets its own CSP (with the
        // hash of Trunk's loader), which the layer leaves alone.
        .layer(security_headers)
}

fn main() -> ExitCode {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let args = cli::Cli::parse();
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match cli::log_format(&args) {
        settings::LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        settings::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(filter).with(logs);
    #[cfg(feature = "otlp")]
    let (subscriber, traces) = {
        let traces = match cli::trace_settings(&args)
            .map(|t| traces::start(&t, runtime.handle().clone()))
            .transpose()
        {
            Ok(traces) => traces.flatten(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        (
            subscriber.with(traces.as_ref().map(traces::Traces::layer)),
            traces,
        )
    };
    subscriber.init();
    #[cfg(feature = "otlp")]
    if let Some(traces) = &traces {
        tracing::info!(endpoint = traces.endpoint(), "traces exported over OTLP");
    }
    let result = runtime.block_on(cli::run(args));
    // The last batch of spans, sent while the runtime still runs.
    #[cfg(feature = "otlp")]
    if let Some(traces) = traces {
        traces.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
