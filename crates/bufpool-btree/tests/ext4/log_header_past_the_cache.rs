//! Session 46 (fix46), R46-10 on a real file system: a log file's header slot that Linux's page cache holds and
//! the device does not, and an open that trusted it (R43-O5; the model's story is `slot_cached_not_on_device.rs`
//! in the integration binary).
//!
//! A slot write whose fsync failed stays in the page cache, clean, when its undo does not happen (the undo's
//! write failed too, or the process died first). The state is made here without a failing device: on an ext4 on
//! a loop device, an open writes the log's slot 1 and syncs it; then the device's bytes of that block are put
//! back as they were before (written into the image under the file system, which keeps its cached page): slot 1
//! reads as written and the device holds its old bytes, which name records two checkpoints' punches took since.
//! A second open then writes one header slot; the power loss during that write is the block it wrote garbled on
//! the device, then the file system unmounted and mounted again (no page cache left). The log must open with
//! every committed record. Until R46-10 the second open read slot 1 from the cache as the slot in force and wrote
//! its contents over slot 0, the only valid slot on the device: garbled, it left slot 1's old bytes, whose start
//! was punched, and the log opened empty and cut every record. Needs root, `mkfs.ext4`, `mount -o loop` and
//! `filefrag`; skips, saying why, elsewhere. In this binary: it mounts.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::process::Command;

use bufpool::storage::{read_past_cache, AlignedBuf};
use bufpool_btree::{Op, TreeWal};

use crate::ext4::Ext4;

/// A 600 MiB ext4 on a loop device in `dir`, or `None` (the test is skipped, and says so) where none can be made.
fn ext4(dir: &Path) -> Option<Ext4> {
    Ext4::new(dir, 600 << 20)
        .map_err(|why| eprintln!("SKIPPED (no ext4 on a loop device here: {why})"))
        .ok()
}

/// The byte offset in the device (the image) of 4 KiB block `block` of `file`, by `filefrag` (FIEMAP).
fn physical_offset(file: &Path, block: u64) -> u64 {
    let out = Command::new("filefrag")
        .args(["-e", "-b4096"])
        .arg(file)
        .output()
        .expect("run filefrag");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        // " 0:        0..       1:      34816..     34817:      2: ..."
        let f: Vec<&str> = line.split(':').map(str::trim).collect();
        if f.len() < 3 || f[0].parse::<u64>().is_err() {
            continue;
        }
        let range = |s: &str| -> (u64, u64) {
            let (a, b) = s.split_once("..").expect("a range");
            (a.trim().parse().unwrap(), b.trim().parse().unwrap())
        };
        let ((lo, hi), (phys, _)) = (range(f[1]), range(f[2]));
        if (lo..=hi).contains(&block) {
            return (phys + block - lo) * 4096;
        }
    }
    panic!(
        "filefrag names no extent of block {block} of {}: {text}",
        file.display()
    )
}

/// The image's 4 KiB at `at`, as its device holds it.
fn device_block(image: &File, at: u64) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    assert_eq!(read_past_cache(image, &mut b, at).unwrap(), 4096);
    b
}

/// Writes `bytes` (4 KiB) into the image at `at`, O_DIRECT: under the file system on it, past every cache.
fn write_device_block(image: &Path, at: u64, bytes: &[u8]) {
    let f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(image)
        .unwrap();
    let mut b = AlignedBuf::zeroed(4096);
    b.copy_from_slice(bytes);
    f.write_all_at(&b, at).unwrap();
    f.sync_all().unwrap();
}

fn put(i: u32) -> (String, Vec<u8>) {
    (format!("key{i:05}"), vec![i as u8; 600])
}

/// Appends the puts of keys `keys`, commits, returns each record's end.
fn append(wal: &TreeWal, keys: std::ops::Range<u32>) -> Vec<u64> {
    let ends = keys
        .map(|i| {
            let (k, v) = put(i);
            wal.append(&[Op::Put {
                page: 3,
                key: k.as_bytes(),
                val: &v,
            }])
            .unwrap()
        })
        .collect();
    wal.commit().unwrap();
    ends
}

#[test]
fn an_open_trusts_the_header_slot_the_device_holds_not_the_page_caches() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = ext4(dir.path()) else { return };
    let path = fs.mnt.join("t.wal");
    // Two checkpoints' cuts: slot 1 names a start the second cut's punch took, slot 0 (in force) the live records.
    let wal = TreeWal::open(&path).unwrap();
    let ends = append(&wal, 0..60);
    wal.truncate_before(ends[29]).unwrap();
    let ends = append(&wal, 60..120);
    wal.truncate_before(ends[39]).unwrap();
    let redo = ends[39];
    drop(wal);
    let image = File::open(&fs.image).unwrap();
    let at1 = physical_offset(&path, 1);
    let slot1_old = device_block(&image, at1);
    assert_eq!(&slot1_old[..8], b"BPTWAL05", "slot 1 on the device");
    // An open writes slot 1 and syncs it; then the device gets slot 1's old bytes back under the file system.
    drop(TreeWal::open(&path).unwrap());
    let slot1_new = device_block(&image, at1);
    assert_ne!(slot1_new[..128], slot1_old[..128], "the open wrote slot 1");
    write_device_block(&fs.image, at1, &slot1_old);
    let mut cached = vec![0u8; 128];
    File::open(&path).unwrap().read_exact_at(&mut cached, 4096).unwrap();
    assert_eq!(
        cached,
        slot1_new[..128],
        "the precondition: the page cache holds the slot the device does not"
    );
    assert_eq!(device_block(&image, at1)[..128], slot1_old[..128]);
    // The second open, and a power loss garbling the header block it wrote.
    let at0 = physical_offset(&path, 0);
    let before = [device_block(&image, at0), device_block(&image, at1)];
    drop(TreeWal::open(&path).unwrap());
    let after = [device_block(&image, at0), device_block(&image, at1)];
    let written: Vec<usize> = (0..2).filter(|&b| before[b] != after[b]).collect();
    assert_eq!(written.len(), 1, "the open wrote one header block");
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    write_device_block(&fs.image, [at0, at1][written[0]], &noise);
    drop(image);
    fs.unmount();
    fs.mount().unwrap();
    let wal = TreeWal::open(&path)
        .unwrap_or_else(|e| panic!("header block {} garbled: the log does not open: {e}", written[0]));
    let got = crate::common::put_ids(&wal);
    let lost: Vec<u32> = (100..120).filter(|k| !got.contains(k)).collect();
    assert!(
        lost.is_empty(),
        "header block {} garbled (the second open wrote it): committed records {lost:?} are gone (the log starts at \
         {}, redo {redo}, and reads {} records)",
        written[0],
        wal.start_lsn(),
        got.len()
    );
}

/// R47-10 on a real file system: an open writes again the blocks of the records read that the device does not
/// hold (R39-2), found by reading them past the page cache (O_DIRECT), since it no longer writes every record (a
/// power loss during that write garbled committed ones: `block_power_loss.rs`). The state a failed fsync leaves
/// (a block cached and clean, not on the device) is made as above: a block of committed records put back to
/// zeros in the image under the file system. The open must write that block (the device then holds the records),
/// and after an unmount and mount (no page cache) the log must read every record.
#[test]
fn an_open_writes_again_the_record_blocks_the_device_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = ext4(dir.path()) else { return };
    let path = fs.mnt.join("t.wal");
    let wal = TreeWal::open(&path).unwrap();
    append(&wal, 0..60);
    // Dropped without a cut, as by a crash of the process: the next open reads (and checks) every record.
    drop(wal);
    let image = File::open(&fs.image).unwrap();
    // Block 4 of the file: records (they start at byte 8192, and 60 of them fill about ten blocks).
    let at = physical_offset(&path, 4);
    let records = device_block(&image, at);
    assert!(records.iter().any(|&b| b != 0), "block 4 holds records");
    write_device_block(&fs.image, at, &[0u8; 4096]);
    let mut cached = vec![0u8; 4096];
    File::open(&path).unwrap().read_exact_at(&mut cached, 4 * 4096).unwrap();
    assert_eq!(
        cached, records,
        "the precondition: the page cache holds records the device does not"
    );
    drop(TreeWal::open(&path).unwrap());
    assert_eq!(
        device_block(&image, at),
        records,
        "the open did not write again the block of records the device lacked"
    );
    drop(image);
    fs.unmount();
    fs.mount().unwrap();
    let wal = TreeWal::open(&path).unwrap();
    assert_eq!(crate::common::put_ids(&wal), (0..60).collect::<Vec<_>>());
}
