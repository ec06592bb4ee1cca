//! The `auditgraph` binary: parse the command line, set up logging, hand over to
//! the library (`auditgraph::cli`).

use std::process::ExitCode;

use clap::Parser;

use auditgraph::config::{Cli, Command};
use auditgraph::telemetry::LogFormat;

// glibc's allocator spent a third of a bulk load consolidating and unlinking
// chunks (the writer allocates and frees millions of short strings); mimalloc
// keeps them in per-thread free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match &cli.command {
        None => cli.serve.log_format,
        Some(Command::Serve(args)) => args.log_format,
        Some(_) => LogFormat::Pretty,
    };
    auditgraph::telemetry::init(format);
    match auditgraph::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
