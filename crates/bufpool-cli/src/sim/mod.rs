//! `bufpool sim`.

/// Arguments of `bufpool sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {}

/// Runs `bufpool sim`.
pub fn run(_args: SimArgs) -> anyhow::Result<()> {
    anyhow::bail!("`bufpool sim` is not built yet")
}
