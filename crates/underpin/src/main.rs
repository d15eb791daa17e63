//! The `underpin` binary: parse arguments, run the command, map the outcome to an exit code.

mod cli;
mod config;
mod docs;
mod logging;
mod migrate;
mod new;
mod render;
mod settings;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::render::Output;

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: u8 = 0;
    /// The command failed: a database error, an invalid migration, a lock timeout.
    pub const FAILURE: u8 = 1;
    /// Bad arguments or config, or a protected environment without --allow-protected.
    pub const USAGE: u8 = 2;
    /// `migrate status --exit-code` found pending migrations.
    pub const PENDING: u8 = 3;
    /// `docs --check` found documents that no longer match the schema.
    pub const OUT_OF_DATE: u8 = 3;
    /// Ctrl-C or SIGTERM stopped the command (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match &cli.command {
        Command::Migrate(args) => args.format,
        Command::Docs(args) => args.report,
    };
    let output = Output::new(format, cli.global.quiet);
    logging::init(cli.global.quiet, cli.global.verbose, cli.global.log_json);

    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Migrate(args) => {
                // Ending the run drops the connection, so the server rolls back the running
                // migration's transaction and frees the lock. This adds the message and 130.
                let mut signals = signals::Signals::listen()?;
                tokio::select! {
                    outcome = migrate::run(&cli.global, args, &output) => outcome,
                    () = signals.recv() => Err(render::CliError::Interrupted(migrate::INTERRUPTED.to_string())),
                }
            }
            Command::Docs(args) => docs::run(&cli.global, args, &output).await,
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            output.error(&error);
            ExitCode::from(error.exit_code())
        }
    }
}
