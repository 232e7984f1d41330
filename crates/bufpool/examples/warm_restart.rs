//! Time to warm a restarted pool, with and without `prewarm`.
//!
//! ```text
//! cargo run --release -p bufpool --example warm_restart -- [--dir DIR] [--file-mb 512] [--frames 16384]
//! ```
//!
//! Creates a data file of `--file-mb` MiB in `--dir` (default: the system temporary directory; put it on a real
//! disk, since O_DIRECT is what keeps the kernel's page cache out of the comparison), fills a pool of `--frames`
//! frames with a random hot set of that many pages, saves the resident list, and closes the pool. Then twice, on a
//! fresh pool each time: "cold" reads the hot set in a random order, each page a miss; "prewarmed" runs
//! `prewarm(list)` (batched reads in page order) and then the same random pass, all hits. Prints the time until
//! the hot set was resident and the whole pass done, and the pool's misses. Every page read is checked against
//! its stamp.

use std::path::PathBuf;
use std::time::Instant;

use bufpool::{BufferPool, FileId, FileOptions, PageId};

const ID: FileId = FileId(1);

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// splitmix64's finaliser: the random order, reproducible.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn stamp(page: &mut [u8], n: u32) {
    page[..4].copy_from_slice(&n.to_le_bytes());
}

fn check(page: &[u8], n: u32) {
    assert_eq!(page[..4], n.to_le_bytes(), "page {n} holds another page's bytes");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = arg(&args, "--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let file_mb: u32 = arg(&args, "--file-mb").map_or(Ok(512), |s| s.parse())?;
    let frames: usize = arg(&args, "--frames").map_or(Ok(16384), |s| s.parse())?;
    let pages = file_mb * 256;
    let tmp = tempfile::tempdir_in(&dir)?;
    let (data, list) = (tmp.path().join("warm.db"), tmp.path().join("warm.resident"));
    {
        let pool = BufferPool::builder().frames(4096).build()?;
        let f = pool.open_file_with(&data, FileOptions::new().id(ID))?;
        for n in 0..pages {
            stamp(&mut pool.new_page(f)?, n);
        }
        pool.close()?;
    }
    // The hot set: `frames` distinct random pages, and the order a restarted workload asks for them in.
    let mut hot: Vec<u32> = (0..pages).collect();
    for i in 0..hot.len() {
        let j = i + (mix(i as u64) % (hot.len() - i) as u64) as usize;
        hot.swap(i, j);
    }
    hot.truncate(frames.min(pages as usize));
    {
        let pool = BufferPool::builder().frames(frames).build()?;
        let f = pool.open_file_with(&data, FileOptions::new().id(ID))?;
        for &n in &hot {
            check(&pool.read(PageId::new(f, n))?, n);
        }
        println!("saved {} resident pages", pool.save_resident(&list)?);
        pool.close()?;
    }
    for prewarmed in [false, true] {
        let pool = BufferPool::builder().frames(frames).build()?;
        let f = pool.open_file_with(&data, FileOptions::new().id(ID))?;
        let start = Instant::now();
        let mut warm_ms = 0.0;
        if prewarmed {
            let done = pool.prewarm(&list)?;
            warm_ms = start.elapsed().as_secs_f64() * 1e3;
            assert_eq!(done.loaded, hot.len());
        }
        for &n in &hot {
            check(&pool.read(PageId::new(f, n))?, n);
        }
        let total_ms = start.elapsed().as_secs_f64() * 1e3;
        let st = pool.stats();
        println!(
            "{:<9} hot set of {} pages warm after {:>8.1} ms (prewarm {:>7.1} ms); misses during the pass {}; {}",
            if prewarmed { "prewarmed" } else { "cold" },
            hot.len(),
            total_ms,
            warm_ms,
            st.misses - if prewarmed { hot.len() as u64 } else { 0 },
            st.files[0].backend,
        );
    }
    Ok(())
}
