//! The `bufpool` command: `bench` (workloads with peers and limits side by side), `sim` (replays page-access
//! traces through every policy, against Belady's optimum), `inspect` (decodes the pages of a data file, or lists
//! a pool's `save_resident` list with `--pool`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` for a command's report on standard output, in a function returning `anyhow::Result`: standard output
/// that cannot be written (redirected to a full device, a pipe whose reader has gone, as `bufpool inspect F | head`)
/// returns the error ([`stdout_error`]) instead of panicking, as `println!` does (R30-22 in RELIABILITY.md).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::stdout_error)?
    }};
}

/// [`outln!`] without the newline (`print!`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*).map_err($crate::stdout_error)?
    }};
}

mod bench;
mod inspect;
mod sim;

/// The error of a write to standard output ([`outln!`]).
fn stdout_error(e: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("writing the report to standard output")
}

#[derive(Parser)]
#[command(
    name = "bufpool",
    version,
    about = "bufpool: benchmark, simulate and inspect a buffer pool"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run workloads against bufpool, its peers and the hardware limits, side by side.
    Bench(Box<bench::BenchArgs>),
    /// Replay a page-access trace through every replacement policy and Belady's optimum.
    Sim(sim::SimArgs),
    /// Decode and verify the pages of a data file.
    Inspect(inspect::InspectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Bench(a) => bench::run(*a),
        Cmd::Sim(a) => sim::run(a),
        Cmd::Inspect(a) => inspect::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bufpool: {e:#}");
            ExitCode::FAILURE
        }
    }
}
