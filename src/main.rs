//! The `ae` command: train, use and compare autoencoders from the shell. See `ae --help`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::in_flags(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
