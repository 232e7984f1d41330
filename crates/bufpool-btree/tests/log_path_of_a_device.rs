//! `TreeWal::open` of a path that is not a regular file (R29-1 in RELIABILITY.md). The open measured the file by
//! `metadata().len()`, which is 0 for a block or character device, a FIFO and a socket: a log path naming a block
//! device (a raw disk meant for the log, or a mistyped path) was taken for a new, empty log, and a new log's header
//! was written over the device's first KiB, fsynced, and the open returned `Ok`, whatever the device held (a file
//! system, another log: its header was never read). A FIFO and `/dev/null` failed only at the header's write or
//! fsync, with an I/O error that did not say why. The pool refuses such data files
//! (`bufpool::Error::NotARegularFile`); a log is refused the same way, before anything is written, saying what the
//! path is. A log on a device goes through `TreeWal::open_storage`.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Command;

use bufpool_btree::{Error, TreeWal};

/// The refusal every special file gets: `Error::Log`, naming the path and what it is.
fn assert_refused(path: &Path, kind: &str) {
    match TreeWal::open(path) {
        Err(Error::Log(m)) => {
            assert!(
                m.contains("not a regular file") && m.contains(kind),
                "{}: {m}",
                path.display()
            )
        }
        Err(e) => panic!("{}: refused with an unexpected error: {e}", path.display()),
        Ok(_) => panic!("{}: opened as a log", path.display()),
    }
}

/// A FIFO (directly and through a symbolic link) and a character device: refused as such, and nothing is written
/// into the FIFO (a reader holding it open finds it empty).
#[test]
fn a_fifo_as_a_log_path_is_refused_and_nothing_is_written_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("t.wal");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success(), "mkfifo");
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    assert_refused(&fifo, "fifo");
    let mut got = [0u8; 2048];
    let n = match reader.read(&mut got) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("reading the FIFO: {e}"),
    };
    assert_eq!(n, 0, "the open wrote {n} bytes into the FIFO");
    // A symbolic link to it is the same.
    let link = dir.path().join("link.wal");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    assert_refused(&link, "fifo");
    assert_refused(Path::new("/dev/null"), "character device");
}

/// Detaches a loop device when dropped.
struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// A block device (a loop device over a file of known bytes, where the test may make one: root with `losetup`;
/// elsewhere this part says so and checks nothing): refused, and its bytes left as they were.
#[test]
fn a_block_device_as_a_log_path_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disk.img");
    let bytes: Vec<u8> = b"a file system's superblock, or another log "
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect();
    std::fs::write(&image, &bytes).unwrap();
    let attached = Command::new("losetup").args(["-f", "--show"]).arg(&image).output();
    let dev = match attached {
        Ok(o) if o.status.success() => Loop(String::from_utf8(o.stdout).unwrap().trim().to_owned()),
        other => {
            eprintln!("no loop device here (not root, or no losetup: {other:?}): the block device case is not run");
            return;
        }
    };
    assert_refused(Path::new(&dev.0), "block device");
    drop(dev);
    assert!(
        std::fs::read(&image).unwrap() == bytes,
        "the device's bytes changed under a refused open"
    );
}
