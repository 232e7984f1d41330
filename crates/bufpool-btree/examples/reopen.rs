//! The time a tree's open takes after a load (R22-10 in RELIABILITY.md: before it, the open read every page the
//! last checkpoint's notes named, up to the whole tree after a load).
//!
//! ```text
//! cargo run -p bufpool-btree --release --example reopen -- load TUPLES FRAMES DIR   # load in random order, close
//! cargo run -p bufpool-btree --release --example reopen -- open FRAMES DIR          # open, timed; drop unclosed
//! ```
//! `load` fills a new tree in `DIR` (which must not hold one) with `TUPLES` keys in random order (8-byte keys,
//! 120-byte values: `bench::mix`, `bench::value_for`), committing every 10,000, then closes it (its checkpoint
//! cuts the log). `open` opens it on a pool of `FRAMES` frames and prints the open's wall time and the pages it
//! read; the tree is dropped without `close`, so time only the open (its own checkpoint, if it replayed records,
//! is part of it). Copy `DIR` before each `open`: an open changes the log.

use std::time::Instant;

use bufpool_btree::bench::{mix, value_for};
use bufpool_btree::{open_dir, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args
            .get(i)
            .ok_or("missing argument (see the example's docs)")?
            .parse()?)
    };
    let options = |frames: u64| Options {
        frames: frames as usize,
        page_size: 4096,
    };
    match args.first().map(String::as_str) {
        Some("load") => {
            let (tuples, frames) = (num(1)?, num(2)?);
            let tree = open_dir(args.get(3).ok_or("no DIR")?, options(frames))?;
            for i in 0..tuples {
                let k = mix(i);
                tree.put(&k.to_be_bytes(), &value_for(k))?;
                if (i + 1) % 10_000 == 0 {
                    tree.commit()?;
                }
            }
            tree.commit()?;
            let t = Instant::now();
            tree.close().map_err(bufpool_btree::CloseError::into_error)?;
            println!("load: {tuples} tuples, closed in {:.3} s", t.elapsed().as_secs_f64());
        }
        Some("open") => {
            let frames = num(1)?;
            let t = Instant::now();
            let tree = open_dir(args.get(2).ok_or("no DIR")?, options(frames))?;
            let open = t.elapsed();
            let st = tree.pool().stats();
            println!(
                "open: {:.3} s, {} pages read, {} written, data file {} pages",
                open.as_secs_f64(),
                st.reads,
                st.writes,
                tree.pool().file_pages(tree.file())?
            );
        }
        _ => return Err("usage: reopen load TUPLES FRAMES DIR | reopen open FRAMES DIR".into()),
    }
    Ok(())
}
