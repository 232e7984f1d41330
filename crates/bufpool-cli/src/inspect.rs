//! `bufpool inspect`.

/// Arguments of `bufpool inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {}

/// Runs `bufpool inspect`.
pub fn run(_args: InspectArgs) -> anyhow::Result<()> {
    anyhow::bail!("`bufpool inspect` is not built yet")
}
