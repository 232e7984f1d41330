//! The `bufpool` command: `bench` (workloads with peers and limits side by side), `sim` (replays page-access
//! traces through every policy, against Belady's optimum), `inspect` (decodes the pages of a data file, or lists
//! a pool's `save_resident` list with `--pool`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod inspect;
mod sim;

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
