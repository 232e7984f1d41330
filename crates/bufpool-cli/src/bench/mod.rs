//! `bufpool bench`.

/// Arguments of `bufpool bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {}

/// Runs `bufpool bench`.
pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`bufpool bench` is not built yet")
}
