//! Random 4 KiB O_DIRECT reads: blocking `pread` (`FileStorage`) against io_uring batches (`UringStorage`).
//!
//! ```text
//! cargo run --release -p bufpool --example uring_vs_pread -- --file-mb 1024 --seconds 5 [--dir DIR] [--keep]
//!     [--threads 1,2] [--depths 1,8,32]
//! ```
//!
//! Creates (or reuses, with `--keep`) a data file of `--file-mb` MiB in `--dir` (default: the system temporary
//! directory; it must be on a real disk, since tmpfs refuses O_DIRECT and would measure memory), every page
//! stamped with its page number. Then, for `--seconds` each, it runs: pread from 1 and 2 threads (one read at a
//! time per thread), and `UringStorage::submit` batches of 1, 8 and 32 reads from 1 and 2 threads (each thread
//! submits a batch and waits for all of it, as the pool's batched reads will). Every page read is checked
//! against its stamp, so the run is also a consistency check. Prints IOPS per configuration.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bufpool::storage::{uring_available, AlignedBuf, FileStorage, IoRequest, OpenMode, Storage, UringStorage};

const PAGE: usize = 4096;
const FILL_CHUNK: usize = 4 << 20;

struct Args {
    file_mb: u64,
    seconds: f64,
    dir: PathBuf,
    keep: bool,
    threads: Vec<usize>,
    depths: Vec<usize>,
}

fn parse_list(flag: &str, value: &str) -> Result<Vec<usize>, String> {
    let list: Vec<usize> = value
        .split(',')
        .map(|v| v.trim().parse().map_err(|e| format!("{flag}: {e}")))
        .collect::<Result<_, _>>()?;
    if list.contains(&0) {
        return Err(format!("{flag}: values must be positive"));
    }
    Ok(list)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        file_mb: 1024,
        seconds: 5.0,
        dir: std::env::temp_dir(),
        keep: false,
        threads: vec![1, 2],
        depths: vec![1, 8, 32],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--file-mb" => args.file_mb = value()?.parse().map_err(|e| format!("--file-mb: {e}"))?,
            "--seconds" => args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            "--keep" => args.keep = true,
            "--threads" => args.threads = parse_list("--threads", &value()?)?,
            "--depths" => args.depths = parse_list("--depths", &value()?)?,
            "-h" | "--help" => {
                return Err(
                    "usage: uring_vs_pread [--file-mb N] [--seconds S] [--dir DIR] [--keep] \
                     [--threads 1,2] [--depths 1,8,32]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.file_mb == 0 || args.seconds <= 0.0 {
        return Err("--file-mb and --seconds must be positive".into());
    }
    Ok(args)
}

/// Writes the data file unless one of the right size is there: page `n` starts with `n` (little endian).
fn create_file(path: &PathBuf, bytes: u64) -> std::io::Result<()> {
    if std::fs::metadata(path).map(|m| m.len() == bytes).unwrap_or(false) {
        println!("reusing {}", path.display());
        return Ok(());
    }
    let started = Instant::now();
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    let mut chunk = vec![0x5au8; FILL_CHUNK];
    let mut page_no = 0u64;
    let mut written = 0u64;
    while written < bytes {
        let n = (bytes - written).min(FILL_CHUNK as u64) as usize;
        for page in chunk[..n].chunks_mut(PAGE) {
            page[..8].copy_from_slice(&page_no.to_le_bytes());
            page_no += 1;
        }
        f.write_all(&chunk[..n])?;
        written += n as u64;
    }
    f.sync_all()?;
    println!(
        "wrote {} ({} MiB) in {:.1} s",
        path.display(),
        bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// xorshift64*: enough randomness for picking pages, no dependency.
struct Rng(u64);

impl Rng {
    fn page(&mut self, pages: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % pages
    }
}

fn check(buf: &[u8], page_no: u64) {
    let stamp = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    assert_eq!(stamp, page_no, "page {page_no} read back the stamp of page {stamp}");
}

/// Runs `threads` workers for `seconds`; each calls `work(rng)` (returning reads done) until time is up.
fn measure(threads: usize, seconds: f64, work: impl Fn(&mut Rng) -> u64 + Sync) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let total: u64 = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, work) = (&stop, &work);
                scope.spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0x1234_5678_9ABC));
                    let mut reads = 0;
                    while !stop.load(Ordering::Relaxed) {
                        reads += work(&mut rng);
                    }
                    reads
                })
            })
            .collect();
        thread::sleep(Duration::from_secs_f64(seconds));
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().expect("worker")).sum()
    });
    (total as f64 / started.elapsed().as_secs_f64(), total)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if !uring_available() {
        eprintln!("io_uring is unavailable on this machine; nothing to compare");
        std::process::exit(1);
    }
    let path = args.dir.join("bufpool-uring-vs-pread.dat");
    let bytes = args.file_mb << 20;
    let pages = bytes / PAGE as u64;
    if let Err(e) = create_file(&path, bytes) {
        eprintln!("cannot create {}: {e}", path.display());
        std::process::exit(1);
    }
    let opened = FileStorage::open(&path, OpenMode::DirectOnly)
        .and_then(|f| UringStorage::open(&path, OpenMode::DirectOnly).map(|u| (Arc::new(f), Arc::new(u))));
    let (pread, uring) = match opened {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("{} refuses O_DIRECT ({e}); use --dir on a real disk", path.display());
            std::process::exit(1);
        }
    };
    println!(
        "random {PAGE}-byte O_DIRECT reads over {} MiB, {} s per run",
        args.file_mb, args.seconds
    );
    println!("{:<28} {:>10} {:>12}", "configuration", "IOPS", "reads");
    let report = |name: String, (iops, reads): (f64, u64)| {
        println!("{name:<28} {iops:>10.0} {reads:>12}");
    };

    for &threads in &args.threads {
        let pread = Arc::clone(&pread);
        report(
            format!("pread, {threads} thread(s)"),
            measure(threads, args.seconds, move |rng| {
                thread_local! {
                    static BUF: std::cell::RefCell<AlignedBuf> =
                        std::cell::RefCell::new(AlignedBuf::zeroed(PAGE));
                }
                BUF.with_borrow_mut(|buf| {
                    let p = rng.page(pages);
                    let n = pread.read_at(buf, p * PAGE as u64).expect("pread");
                    assert_eq!(n, PAGE);
                    check(buf, p);
                });
                1
            }),
        );
    }
    for &threads in &args.threads {
        for &depth in &args.depths {
            let uring = Arc::clone(&uring);
            report(
                format!("io_uring QD{depth}, {threads} thread(s)"),
                measure(threads, args.seconds, move |rng| {
                    thread_local! {
                        static BUFS: std::cell::RefCell<Vec<AlignedBuf>> =
                            const { std::cell::RefCell::new(Vec::new()) };
                    }
                    BUFS.with_borrow_mut(|bufs| {
                        bufs.resize_with(depth, || AlignedBuf::zeroed(PAGE));
                        let wanted: Vec<u64> = (0..depth).map(|_| rng.page(pages)).collect();
                        let mut batch: Vec<IoRequest<'_>> = bufs
                            .iter_mut()
                            .zip(&wanted)
                            .map(|(b, &p)| IoRequest::read(p * PAGE as u64, b))
                            .collect();
                        uring.submit(&mut batch);
                        for r in &batch {
                            let n = r.result.as_ref().expect("set").as_ref().expect("io_uring read");
                            assert_eq!(*n, PAGE);
                        }
                        drop(batch);
                        for (b, &p) in bufs.iter().zip(&wanted) {
                            check(b, p);
                        }
                    });
                    depth as u64
                }),
            );
        }
    }
    drop((pread, uring));
    if args.keep {
        println!("kept {}", path.display());
    } else if let Err(e) = std::fs::remove_file(&path) {
        eprintln!("could not remove {}: {e}", path.display());
    }
}
