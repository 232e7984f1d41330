//! `bufpool inspect FILE`: decodes and verifies every page of a data file, without a pool (so corrupt pages can be
//! looked at rather than refused).
//!
//! Prints a summary (pages valid, never written, corrupt by reason, LSN range) and the corrupt pages; with
//! `--page N`, the header of page N and a hex dump of its first bytes; with `--json FILE`, the same as JSON.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use bufpool::checksum::{self, Verified};
use bufpool::page::PageHeader;
use bufpool::{CorruptReason, PageSize, PAGE_HEADER_SIZE};
use serde::Serialize;

/// Arguments of `bufpool inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The data file.
    file: PathBuf,
    /// Page size the file was written with. Default: detected from the page headers (the first bufpool page
    /// names its size), else 4096.
    #[arg(long)]
    page_size: Option<usize>,
    /// Show one page: its header and the first bytes of its user region.
    #[arg(long)]
    page: Option<u32>,
    /// How many bytes of the user region `--page` dumps.
    #[arg(long, default_value_t = 256)]
    dump_bytes: usize,
    /// List at most this many corrupt pages.
    #[arg(long, default_value_t = 50)]
    max_listed: usize,
    /// Also write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Serialize, Default)]
struct Report {
    file: String,
    page_size: usize,
    bytes: u64,
    pages: u64,
    valid: u64,
    never_written: u64,
    corrupt: u64,
    partial_tail_bytes: u64,
    lsn_min: Option<u64>,
    lsn_max: Option<u64>,
    corrupt_pages: Vec<CorruptPage>,
}

#[derive(Serialize)]
struct CorruptPage {
    page: u64,
    reason: String,
}

/// Runs `bufpool inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let mut f = File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let requested = match args.page_size {
        Some(n) => n,
        None => detect_page_size(&mut f)?.unwrap_or(PageSize::DEFAULT.bytes()),
    };
    let Some(page_size) = PageSize::new(requested) else {
        bail!("--page-size {requested} is not a power of two from 4096 to 65536");
    };
    let ps = page_size.bytes();
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(0))?;
    let bytes = f.metadata()?.len();
    if let Some(n) = args.page {
        return show_page(&mut f, n, ps, bytes, args.dump_bytes);
    }
    let mut r = Report {
        file: args.file.display().to_string(),
        page_size: ps,
        bytes,
        pages: bytes / ps as u64,
        partial_tail_bytes: bytes % ps as u64,
        ..Report::default()
    };
    let mut buf = vec![0u8; ps];
    for n in 0..r.pages {
        f.read_exact(&mut buf).with_context(|| format!("reading page {n}"))?;
        let Ok(page_no) = u32::try_from(n) else {
            bail!("file has more pages than a u32 can number")
        };
        match checksum::verify(&buf, page_no) {
            Ok(Verified::Valid) => {
                r.valid += 1;
                let lsn = checksum::lsn_of(&buf);
                r.lsn_min = Some(r.lsn_min.map_or(lsn, |m| m.min(lsn)));
                r.lsn_max = Some(r.lsn_max.map_or(lsn, |m| m.max(lsn)));
            }
            Ok(Verified::Fresh) => r.never_written += 1,
            Err(reason) => {
                r.corrupt += 1;
                if r.corrupt_pages.len() < args.max_listed {
                    r.corrupt_pages.push(CorruptPage {
                        page: n,
                        reason: describe(reason),
                    });
                }
            }
        }
    }
    println!("{}: {} bytes, {} pages of {} bytes", r.file, r.bytes, r.pages, ps);
    println!("  valid          {:>12}", r.valid);
    println!("  never written  {:>12}", r.never_written);
    println!("  corrupt        {:>12}", r.corrupt);
    if r.partial_tail_bytes > 0 {
        println!(
            "  partial page at the end: {} bytes (a torn extension?)",
            r.partial_tail_bytes
        );
    }
    if let (Some(lo), Some(hi)) = (r.lsn_min, r.lsn_max) {
        println!("  page LSNs      {lo} ..= {hi}");
    }
    for c in &r.corrupt_pages {
        println!("  page {:>10}: {}", c.page, c.reason);
    }
    if r.corrupt as usize > r.corrupt_pages.len() {
        println!(
            "  ... and {} more corrupt pages",
            r.corrupt as usize - r.corrupt_pages.len()
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&r)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if r.corrupt > 0 {
        bail!("{} corrupt pages", r.corrupt);
    }
    Ok(())
}

/// The page size named by the first bufpool page header found at a 4 KiB boundary (whose page number matches its
/// offset at that size) in the first 16 MiB; `None` if there is none (an empty or never-written file).
fn detect_page_size(f: &mut File) -> anyhow::Result<Option<usize>> {
    use std::io::{Seek, SeekFrom};
    let mut head = [0u8; PAGE_HEADER_SIZE];
    let len = f.metadata()?.len();
    let mut offset = 0u64;
    while offset + PAGE_HEADER_SIZE as u64 <= len.min(16 << 20) {
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut head)?;
        if let Some(h) = PageHeader::decode(&head) {
            if h.magic == bufpool::page::PAGE_MAGIC && h.format == bufpool::page::PAGE_FORMAT_VERSION {
                if let Some(size) = h.page_size() {
                    if offset % size as u64 == 0 && offset / size as u64 == u64::from(h.page_no) {
                        return Ok(Some(size));
                    }
                }
            }
        }
        offset += PageSize::MIN as u64;
    }
    Ok(None)
}

fn describe(reason: CorruptReason) -> String {
    reason.to_string()
}

fn show_page(f: &mut File, n: u32, ps: usize, bytes: u64, dump: usize) -> anyhow::Result<()> {
    use std::io::{Seek, SeekFrom};
    let offset = n as u64 * ps as u64;
    if offset + ps as u64 > bytes {
        bail!(
            "page {n} is past the end of the file ({} whole pages)",
            bytes / ps as u64
        );
    }
    let mut buf = vec![0u8; ps];
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut buf)?;
    let h = PageHeader::decode(&buf).context("page shorter than a header")?;
    let verdict = match checksum::verify(&buf, n) {
        Ok(Verified::Valid) => "valid".to_string(),
        Ok(Verified::Fresh) => "never written (all zero)".to_string(),
        Err(reason) => format!("CORRUPT: {}", describe(reason)),
    };
    println!("page {n} at offset {offset}: {verdict}");
    println!(
        "  checksum {:#010x} (computed {:#010x})",
        h.checksum,
        checksum::compute(&buf)
    );
    println!("  page_no  {}", h.page_no);
    println!("  lsn      {}", h.lsn);
    println!(
        "  magic    {:#06x}  format {}  page size {}  file identity {:#010x}",
        h.magic,
        h.format,
        h.page_size().map_or("?".to_string(), |s| s.to_string()),
        h.file_identity
    );
    let user = &buf[PAGE_HEADER_SIZE..];
    for (i, chunk) in user[..dump.min(user.len())].chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = chunk
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
            .collect();
        println!("  {:06x}  {:<48} {}", i * 16, hex.join(" "), text);
    }
    Ok(())
}
