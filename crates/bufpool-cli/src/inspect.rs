//! `bufpool inspect FILE`: decodes and verifies every page of a data file, without a pool (so corrupt pages can be
//! looked at rather than refused).
//!
//! Prints a summary (pages valid, never written, corrupt by reason, LSN range) and the corrupt pages; with
//! `--page N`, the header of page N and a hex dump of its first bytes; with `--json FILE`, the same as JSON.
//!
//! `bufpool inspect --pool LIST` lists instead what a pool held: a resident list written by
//! `BufferPool::save_resident`, one row per page as PostgreSQL's `pg_buffercache` shows its buffers (frame, file,
//! page, dirty, latched, LSN; a list of the first format has page ids only), with a summary per file.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{bail, Context};
use bufpool::checksum::{self, Verified};
use bufpool::page::{PageHeader, PAGE_MAGIC};
use bufpool::{CorruptReason, PageSize, PAGE_HEADER_SIZE};
use serde::Serialize;

/// Arguments of `bufpool inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The data file.
    #[arg(required_unless_present = "pool", conflicts_with = "pool")]
    file: Option<PathBuf>,
    /// List a pool's resident pages from a list written by `BufferPool::save_resident` (as pg_buffercache).
    #[arg(long, value_name = "LIST")]
    pool: Option<PathBuf>,
    /// With `--pool`: list at most this many pages (the summary counts them all).
    #[arg(long, default_value_t = 1000)]
    max_rows: usize,
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
    if let Some(list) = &args.pool {
        return show_pool(list, args.max_rows, args.json.as_deref());
    }
    let file = args.file.clone().context("a data file or --pool LIST is required")?;
    // What was opened is looked at, not the path before the open (R29-O3: a path swapped for a FIFO between the
    // two blocked). The open is non-blocking, so a FIFO's returns at once instead of waiting for a writer for
    // ever; a directory opens (on Linux) and would only fail at the first read, with an error that names no path;
    // a device's length reads as 0, so it passed as an empty data file (R28-5). A data file is a regular file, as
    // the pool requires. (`O_NONBLOCK` changes nothing for a regular file's reads.)
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let meta = f
        .metadata()
        .with_context(|| format!("cannot open {}", file.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory, not a data file", file.display());
    }
    if !meta.is_file() {
        bail!(
            "{} is a {}, not a regular file: not a data file",
            file.display(),
            bufpool::storage::file_kind(&meta)
        );
    }
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
        file: file.display().to_string(),
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
    outln!(
        "{}: {} bytes, {} of {} bytes",
        r.file,
        r.bytes,
        plural(r.pages, "page"),
        ps
    );
    outln!("  valid          {:>12}", r.valid);
    outln!("  never written  {:>12}", r.never_written);
    outln!("  corrupt        {:>12}", r.corrupt);
    if r.partial_tail_bytes > 0 {
        let mut tail = vec![0u8; r.partial_tail_bytes as usize];
        f.read_exact(&mut tail).context("reading the partial page at the end")?;
        let what = describe_tail(&tail);
        outln!("  partial page at the end: {} bytes, {what}", r.partial_tail_bytes);
    }
    if let (Some(lo), Some(hi)) = (r.lsn_min, r.lsn_max) {
        outln!("  page LSNs      {lo} ..= {hi}");
    }
    for c in &r.corrupt_pages {
        outln!("  page {:>10}: {}", c.page, c.reason);
    }
    if r.corrupt as usize > r.corrupt_pages.len() {
        outln!(
            "  ... and {} more",
            plural(r.corrupt - r.corrupt_pages.len() as u64, "corrupt page")
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&r)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if r.valid == 0 {
        // Nothing verified: say what the file is rather than "N corrupt pages".
        let mut first = vec![0u8; (bytes as usize).min(ps)];
        {
            use std::io::{Seek, SeekFrom};
            f.seek(SeekFrom::Start(0))?;
            f.read_exact(&mut first).context("reading the first page")?;
        }
        if let Some(found) = foreign_header(&first) {
            bail!("{} is not a bufpool file: {found}", r.file);
        }
    }
    if r.corrupt > 0 {
        let hint = match verifying_page_size(&mut f, bytes, ps)? {
            Some(size) => format!("; the file verifies with --page-size {size}"),
            None if r.valid == 0 => format!(" (no page verified: was the file written with {ps}-byte pages?)"),
            None => String::new(),
        };
        bail!("{}{hint}", plural(r.corrupt, "corrupt page"));
    }
    Ok(())
}

/// "1 corrupt page", "12 corrupt pages".
fn plural(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// What the bytes at the start of a file are, if they are not a bufpool page header (nor zeroes, which a bufpool
/// file may start with after a torn extension): a description naming the bytes found.
fn foreign_header(first: &[u8]) -> Option<String> {
    if first.iter().all(|&b| b == 0) {
        return None;
    }
    let head: Vec<String> = first.iter().take(8).map(|b| format!("{b:02x}")).collect();
    match PageHeader::decode(first) {
        Some(h) if h.magic == PAGE_MAGIC => None,
        Some(h) => Some(format!(
            "its first page has no bufpool header (magic {:#06x}, expected {PAGE_MAGIC:#06x}; first bytes {})",
            h.magic,
            head.join(" ")
        )),
        None => Some(format!(
            "{} bytes, shorter than a page header (first bytes {})",
            first.len(),
            head.join(" ")
        )),
    }
}

/// What a partial page at the end of a file looks like.
fn describe_tail(tail: &[u8]) -> &'static str {
    if tail.iter().all(|&b| b == 0) {
        "all zero (a torn extension?)"
    } else if PageHeader::decode(tail).is_some_and(|h| h.magic == PAGE_MAGIC) {
        "starting with a bufpool header (a torn extension?)"
    } else {
        "not a bufpool page header"
    }
}

/// The page size the file's first pages verify with, if it is not `ps`: each size from 4 KiB to 64 KiB is tried
/// on up to 8 pages; a size fits when at least one page is valid and none is corrupt.
fn verifying_page_size(f: &mut File, bytes: u64, ps: usize) -> anyhow::Result<Option<usize>> {
    use std::io::{Seek, SeekFrom};
    let mut size = PageSize::MIN;
    while size <= PageSize::MAX {
        if size != ps && bytes >= size as u64 {
            let pages = (bytes / size as u64).min(8) as u32;
            let mut buf = vec![0u8; size];
            let (mut valid, mut corrupt) = (0, 0);
            f.seek(SeekFrom::Start(0))?;
            for n in 0..pages {
                f.read_exact(&mut buf)?;
                match checksum::verify(&buf, n) {
                    Ok(Verified::Valid) => valid += 1,
                    Ok(Verified::Fresh) => {}
                    Err(_) => corrupt += 1,
                }
            }
            if valid > 0 && corrupt == 0 {
                return Ok(Some(size));
            }
        }
        size *= 2;
    }
    Ok(None)
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
                    if offset.is_multiple_of(size as u64) && offset / size as u64 == u64::from(h.page_no) {
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
    outln!("page {n} at offset {offset}: {verdict}");
    outln!(
        "  checksum {:#010x} (computed {:#010x})",
        h.checksum,
        checksum::compute(&buf)
    );
    outln!("  page_no  {}", h.page_no);
    outln!("  lsn      {}", h.lsn);
    outln!(
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
        outln!("  {:06x}  {:<48} {}", i * 16, hex.join(" "), text);
    }
    Ok(())
}

/// `--pool`'s JSON: the list's version, a summary per file, and the pages.
#[derive(Serialize)]
struct PoolReport {
    list: String,
    version: u8,
    pages: usize,
    files: Vec<PoolFile>,
    resident: Vec<PoolPage>,
}

#[derive(Serialize)]
struct PoolFile {
    file: u32,
    /// The identity its pages carry, from a version 3 list (`None` before; 0 for a file without one).
    identity: Option<u32>,
    pages: u64,
    dirty: Option<u64>,
    latched: Option<u64>,
}

#[derive(Serialize)]
struct PoolPage {
    frame: Option<u32>,
    file: u32,
    page: u32,
    dirty: Option<bool>,
    latched: Option<bool>,
    lsn: Option<u64>,
}

/// Lists a resident list: a header with the version and count, a summary per file, then up to `max_rows`
/// rows (all of them in the JSON).
fn show_pool(path: &std::path::Path, max_rows: usize, json: Option<&std::path::Path>) -> anyhow::Result<()> {
    let list = bufpool::read_resident_list(path)?;
    let resident: Vec<PoolPage> = list
        .pages
        .iter()
        .map(|p| PoolPage {
            frame: p.frame,
            file: p.page.file().0,
            page: p.page.page_no(),
            dirty: p.dirty,
            latched: p.latched,
            lsn: p.lsn,
        })
        .collect();
    let mut files: Vec<PoolFile> = Vec::new();
    for p in &resident {
        if files.last().is_none_or(|f| f.file != p.file) {
            files.push(PoolFile {
                file: p.file,
                identity: list.files.iter().find(|l| l.file.0 == p.file).map(|l| l.identity),
                pages: 0,
                dirty: p.dirty.map(|_| 0),
                latched: p.latched.map(|_| 0),
            });
        }
        let f = files.last_mut().expect("pushed above");
        f.pages += 1;
        let add = |n: &mut Option<u64>, on: Option<bool>| *n = n.zip(on).map(|(n, on)| n + u64::from(on));
        add(&mut f.dirty, p.dirty);
        add(&mut f.latched, p.latched);
    }
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let flag = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    outln!(
        "{}: resident list version {}, {}{}",
        path.display(),
        list.version,
        plural(resident.len() as u64, "page"),
        if list.version < 2 {
            " (page ids only: no frame, dirty, latched or LSN)"
        } else {
            ""
        }
    );
    for f in &files {
        outln!(
            "  file {:>10}: identity {:>10}, {:>10} pages, dirty {:>10}, latched {:>6}",
            f.file,
            f.identity.map_or_else(|| "-".to_string(), |i| format!("{i:08x}")),
            f.pages,
            opt(f.dirty),
            opt(f.latched)
        );
    }
    outln!(
        "{:>10} {:>10} {:>10} {:>5} {:>7} {:>20}",
        "frame",
        "file",
        "page",
        "dirty",
        "latched",
        "lsn"
    );
    for p in resident.iter().take(max_rows) {
        outln!(
            "{:>10} {:>10} {:>10} {:>5} {:>7} {:>20}",
            opt(p.frame.map(u64::from)),
            p.file,
            p.page,
            flag(p.dirty),
            flag(p.latched),
            opt(p.lsn)
        );
    }
    if resident.len() > max_rows {
        outln!(
            "... and {} more (--max-rows)",
            plural((resident.len() - max_rows) as u64, "page")
        );
    }
    if let Some(json) = json {
        let report = PoolReport {
            list: path.display().to_string(),
            version: list.version,
            pages: resident.len(),
            files,
            resident,
        };
        std::fs::write(json, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", json.display()))?;
    }
    Ok(())
}
