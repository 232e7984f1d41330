//! U1 (issue 11): a thread that cannot set up an io_uring ring (here: the process is out of file descriptors, so
//! `io_uring_setup` fails with EMFILE) must not fail the file: no I/O was attempted. The batch runs with plain
//! `pread`/`pwrite`/`fdatasync` instead. This binary holds one test because it lowers the process's file limit.

use bufpool::storage::{uring_available, uring_fallbacks};
use bufpool::{BufferPool, IoBackend, PageId};

#[test]
fn a_thread_without_a_ring_still_writes_and_syncs() {
    if !uring_available() {
        eprintln!("skipped: io_uring is not available on this kernel");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder()
        .frames(8)
        .io_backend(IoBackend::Uring)
        .io_threads(0)
        .build()
        .unwrap();
    let file = pool.open_file(dir.path().join("u1.db")).unwrap();
    for i in 0..3u8 {
        pool.new_page(file).unwrap()[0] = i + 1;
    }

    // Use up the file descriptors: lower the soft limit just above what is open, then fill the rest.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write to or read from the struct we pass; RLIMIT_NOFILE is a valid resource.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let lowered = libc::rlimit {
        rlim_cur: open_now + 4,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }
    let before = uring_fallbacks();
    // A fresh thread has no ring yet; creating one needs a descriptor.
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            let checkpoint = pool.checkpoint();
            let stats = pool.stats();
            (checkpoint, stats)
        })
        .join()
        .unwrap()
    });
    drop(fillers);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);

    let (checkpoint, stats) = outcome;
    checkpoint.expect("a checkpoint on a thread that cannot have a ring");
    assert!(!stats.files[0].failed, "the file was failed although no I/O failed");
    assert!(uring_fallbacks() > before, "the writes ran without a ring");
    assert_eq!(stats.dirty, 0);
    pool.drop_file(file).unwrap();
    let file = pool.open_file(dir.path().join("u1.db")).unwrap();
    for i in 0..3u8 {
        assert_eq!(pool.read(PageId::new(file, i as u32)).unwrap()[0], i + 1);
    }
}
