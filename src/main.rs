//! The `pushgateway` binary: parses flags and runs the library's application.

use std::process::ExitCode;

use clap::Parser;
use pushgateway::cli::{Cli, Command};
use pushgateway::config::Config;
use pushgateway::startup::Application;

/// jemalloc, built to return freed pages at once (`.cargo/config.toml`): with glibc's malloc
/// the per-thread arenas keep what concurrent pushes freed, and mimalloc keeps more still
/// (measured in README, "Benchmark").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version go to stdout and succeed, as upstream 1.11.
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let first = e.to_string();
            eprintln!(
                "pushgateway: error: {}",
                first
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
            );
            return ExitCode::FAILURE;
        }
    };
    match &cli.command {
        Some(Command::Healthcheck(args)) => return pushgateway::healthcheck::main(&cli, args),
        Some(Command::Import(args)) => return pushgateway::upgrade::main(&cli, args),
        None => {}
    }
    let config = match Config::try_from(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pushgateway: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    pushgateway::logging::init(config.log_level, config.log_format);
    log::info!("starting pushgateway {}", pushgateway::version::VERSION);
    let app = match Application::build(config) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("pushgateway: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pushgateway: error: {e}");
            ExitCode::FAILURE
        }
    }
}
