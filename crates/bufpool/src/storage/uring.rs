//! `UringStorage`: a data file driven through io_uring, so that a whole [`Storage::submit`] batch is in flight at
//! once instead of one blocking `pread`/`pwrite` after another.
//!
//! Owns: the per-thread rings, the availability probe, and the loop that pushes a batch, waits, reaps and
//! resubmits. Opening (the O_DIRECT probe and its buffered fallback) and file identity are shared with
//! `file.rs`, so both file backends agree on when a file is direct.
//!
//! # Threads: one ring per thread
//! An io_uring submission queue is not thread-safe, and the pool calls storage from many threads at once. Each
//! thread that does I/O through any `UringStorage` gets its own ring (a `thread_local!`, created lazily on that
//! thread's first I/O and shared by every file that thread touches); a ring is dropped with its thread. Every
//! call is synchronous: it pushes its requests, waits, and reaps until every one of them has completed, so a
//! ring holds only the current call's requests and every completion it reaps is its own. No lock is taken, so
//! no thread ever waits for I/O while holding something another thread needs. The rings are set up with
//! `SINGLE_ISSUER | DEFER_TASKRUN` where the kernel has them (6.1+), which this design makes true: only the
//! owning thread submits and reaps. The price is one ring (a few KiB of kernel memory, counted against
//! `RLIMIT_MEMLOCK` before Linux 5.12) per I/O-doing thread.
//!
//! # Waiting: sleep, or poll first
//! By default a thread whose requests are all pushed sleeps in `io_uring_enter` until they complete. With a
//! completion spin ([`UringStorage::with_completion_spin`], the pool's `Builder::io_spin`), it first polls for
//! up to that long: the rings are set up with `TASKRUN_FLAG`, so a completion the device has delivered shows as
//! a flag in the shared ring (`IORING_SQ_TASKRUN`) and the thread enters the kernel only to reap it, without
//! sleeping and being woken. On a VM whose idle vCPUs halt (a wake-up is a trip through the hypervisor) that
//! saves 5-15% of a queue-depth-1 read here (BENCHMARKS.md "Completion spin"); the price is
//! a core kept busy while it waits, so it pays only where waiting threads leave cores free (at 2 threads on
//! 2 cores it was as often a loss as a gain).
//!
//! # Invariants
//! - A ring is clean between calls: empty submission queue, nothing in flight, empty completion queue.
//! - No call returns while the kernel may still touch one of its buffers. `drive` returns only when every
//!   pushed entry's completion has been reaped, or when the kernel never consumed any pending entry (the ring
//!   is then dropped, entries unread). If the ring keeps refusing to let us wait for entries it has consumed,
//!   the process aborts: returning would let the kernel write into memory the caller may already reuse.
//! - At most `sq_entries` requests are in flight, and the completion queue is twice that (the kernel
//!   default), so completions never overflow; a larger batch is fed through the ring as slots free up.
//! - Requests of one batch run concurrently and complete in any order: a batch with overlapping writes, or a
//!   read overlapping a write, has no defined outcome (unlike the default one-at-a-time `submit`).
//!
//! # Transfers
//! A short read is continued from where it stopped unless the file ends there (checked with `fstat`, so a
//! legitimate short count at end of file needs no extra I/O); a read of 0 bytes is end of file. A short write
//! is continued; a write of 0 bytes is an error. `EINTR`/`EAGAIN` completions are resubmitted, at most
//! [`RETRIES_MAX`] times per request. Each request's outcome is its own: one failed request does not fail the
//! others of its batch.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, IoUring, Probe};

use super::file::{file_identity, file_links, open_with_record, read_past_cache, LazyArea, OpenerLock, SidecarRecord};
use super::{IoKind, IoRequest, OpenMode, Storage, StorageInfo};

/// Submission queue entries per thread's ring: the most requests one thread keeps in flight.
const RING_ENTRIES: u32 = 64;
/// Longest transfer asked of one submission entry (the opcode's length is a u32); longer requests continue.
const SQE_BYTES_MAX: usize = 1 << 30;
/// Resubmissions of one request after `EINTR`/`EAGAIN` before its error is returned.
const RETRIES_MAX: u32 = 64;
/// Consecutive failed `io_uring_enter` calls with requests in the kernel before giving up (and aborting).
const ENTER_FAILURES_MAX: u32 = 10_000;

thread_local! {
    /// This thread's ring and the process it was made in; `None` until the first I/O, or after a ring was
    /// dropped as unusable. A child of `fork` inherits the forking thread's ring but may not submit to it
    /// (`SINGLE_ISSUER`), and must not share it anyway: it makes its own.
    static RING: RefCell<Option<(IoUring, u32)>> = const { RefCell::new(None) };
}

/// The probe's verdict, computed once per process: `Err` holds why io_uring cannot be used.
static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();

/// True when this process can use io_uring for file I/O: a ring can be set up (not refused by the kernel,
/// `kernel.io_uring_disabled`, or a seccomp filter as in many containers), `io_uring_enter` works, and the
/// read, write and fsync opcodes exist (Linux 5.6+). Probed once, then cached.
///
/// [`UringStorage::open`] fails when this is false; callers fall back to [`super::FileStorage`].
pub fn uring_available() -> bool {
    availability().is_ok()
}

fn availability() -> &'static Result<(), String> {
    AVAILABLE.get_or_init(|| probe().map_err(|e| e.to_string()))
}

/// Sets up a small ring, checks the opcodes we use, and runs one no-op through it.
fn probe() -> io::Result<()> {
    let mut ring = new_ring(4)?;
    let mut ops = Probe::new();
    ring.submitter().register_probe(&mut ops)?;
    for (code, name) in [
        (opcode::Read::CODE, "read"),
        (opcode::Write::CODE, "write"),
        (opcode::Fsync::CODE, "fsync"),
    ] {
        if !ops.is_supported(code) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("kernel io_uring lacks the {name} opcode"),
            ));
        }
    }
    let nop = opcode::Nop::new().build().user_data(0);
    // SAFETY: a no-op references no memory; the ring is dropped at the end of this function, after its
    // completion was waited for (or, on error, with the kernel holding nothing of ours either way).
    unsafe { ring.submission().push(&nop) }.map_err(|_| io::Error::other("io_uring probe: submission queue full"))?;
    ring.submit_and_wait(1)?;
    let res = ring
        .completion()
        .next()
        .map(|cqe| cqe.result())
        .ok_or_else(|| io::Error::other("io_uring probe: no completion"))?;
    if res < 0 {
        return Err(io::Error::from_raw_os_error(-res));
    }
    Ok(())
}

/// A ring with the flags that suit one-ring-per-thread use, or a plain one on kernels that lack them.
fn new_ring(entries: u32) -> io::Result<IoUring> {
    let tuned = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .setup_submit_all()
        .build(entries);
    match tuned {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::new(entries),
        other => other,
    }
}

/// A data file whose reads, writes and syncs go through the calling thread's io_uring.
#[derive(Debug)]
pub struct UringStorage {
    file: File,
    direct: bool,
    record: SidecarRecord,
    area: LazyArea,
    /// How long a call polls for its completions before sleeping (zero: sleep at once).
    spin: Duration,
    lock: OpenerLock,
}

impl UringStorage {
    /// Opens or creates `path` for reading and writing, probing O_DIRECT exactly as
    /// [`super::FileStorage::open`] does. Fails with [`io::ErrorKind::Unsupported`] (saying why) when
    /// [`uring_available`] is false, so the caller can fall back to `FileStorage`.
    pub fn open(path: impl AsRef<Path>, mode: OpenMode) -> io::Result<UringStorage> {
        if let Err(why) = availability() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring is unavailable ({why}); use FileStorage instead"),
            ));
        }
        let (file, direct, record) = open_with_record(path.as_ref(), mode)?;
        Ok(UringStorage {
            file,
            direct,
            record,
            area: LazyArea::new(path.as_ref(), direct),
            spin: Duration::ZERO,
            lock: OpenerLock::default(),
        })
    }

    /// Polls for up to `spin` for a call's completions before sleeping in the kernel (see "Waiting" in the
    /// module docs). Zero, the default, sleeps at once.
    pub fn with_completion_spin(mut self, spin: Duration) -> UringStorage {
        self.spin = spin;
        self
    }

    /// Runs `slots` on this thread's ring, creating it on first use. Every slot's result is set on return.
    ///
    /// When this thread cannot have a ring (its setup fails with EMFILE or ENOMEM, the ring is busy in a
    /// re-entrant call, the thread is being torn down), nothing has been submitted yet, so the requests run with
    /// plain `pread`/`pwrite`/`fdatasync` instead of failing: a missing ring is not a failed I/O, and must not
    /// fail the file (U1 in RELIABILITY.md).
    fn run(&self, slots: &mut [Slot<'_>]) {
        let outcome = RING.try_with(|cell| {
            let Ok(mut ring_slot) = cell.try_borrow_mut() else {
                return false;
            };
            let pid = std::process::id();
            if ring_slot.as_ref().is_some_and(|(_, made_in)| *made_in != pid) {
                *ring_slot = None;
            }
            let (ring, _) = match &mut *ring_slot {
                Some(ring) => ring,
                none => match new_ring(RING_ENTRIES) {
                    Ok(ring) => none.insert((ring, pid)),
                    Err(_) => return false,
                },
            };
            if drive(ring, &self.file, slots, self.spin) == RingState::Unusable {
                *ring_slot = None;
            }
            true
        });
        if outcome != Ok(true) {
            RING_FALLBACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            run_sync(&self.file, slots);
        }
        for slot in slots.iter_mut() {
            if slot.result.is_none() {
                *slot.result = Some(Err(io::Error::other("io_uring request was not completed")));
            }
        }
    }
}

/// Batches run with plain system calls because the calling thread could not have a ring (see
/// `UringStorage::run`); for tests and diagnostics.
pub(crate) static RING_FALLBACKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many batches ran without a ring since the process started (a thread's io_uring setup failed, for example
/// with EMFILE): they used `pread`/`pwrite`/`fdatasync` instead and did not fail.
pub fn uring_fallbacks() -> u64 {
    RING_FALLBACKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs the slots that have no result yet with plain system calls, one by one.
fn run_sync(file: &File, slots: &mut [Slot<'_>]) {
    use std::os::unix::fs::FileExt;
    for slot in slots.iter_mut().filter(|s| s.result.is_none()) {
        let outcome = match slot.op {
            Op::Read(ptr) => {
                // SAFETY: the slot borrows its buffer mutably for its lifetime (`Slot::read`), `len` is that
                // buffer's length, and nothing else touches it while `run` holds the slots.
                let buf = unsafe { std::slice::from_raw_parts_mut(ptr, slot.len) };
                let mut done = 0;
                loop {
                    match file.read_at(&mut buf[done..], slot.offset + done as u64) {
                        Ok(0) => break Ok(done),
                        Ok(n) => {
                            done += n;
                            if done == buf.len() {
                                break Ok(done);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                }
            }
            Op::Write(ptr) => {
                // SAFETY: the slot borrows its buffer for its lifetime (`Slot::write`), `len` is its length.
                let buf = unsafe { std::slice::from_raw_parts(ptr, slot.len) };
                file.write_all_at(buf, slot.offset).map(|()| buf.len())
            }
            Op::Fsync => file.sync_data().map(|()| 0),
        };
        *slot.result = Some(outcome);
    }
}

/// The result a slot left, which `run` guarantees is set.
fn finish(result: Option<io::Result<usize>>) -> io::Result<usize> {
    result.unwrap_or_else(|| Err(io::Error::other("io_uring request was not completed")))
}

impl Storage for UringStorage {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut result = None;
        self.run(&mut [Slot::read(buf, offset, &mut result)]);
        finish(result)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut result = None;
        self.run(&mut [Slot::write(buf, offset, &mut result)]);
        finish(result).map(|_| ())
    }

    /// Through `pread` of another descriptor, not the ring: one read of a few KiB at a log's open.
    fn read_device_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        read_past_cache(&self.file, buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        // fdatasync, as FileStorage: it also persists the size change of an extending write.
        let mut result = None;
        self.run(&mut [Slot::fsync(&mut result)]);
        finish(result).map(|_| ())
    }

    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        let mut slots: Vec<Slot<'_>> = batch
            .iter_mut()
            .map(|req| {
                let IoRequest { offset, kind, result } = req;
                *result = None;
                match kind {
                    IoKind::Read(buf) => Slot::read(buf, *offset, result),
                    IoKind::Write(buf) => Slot::write(buf, *offset, result),
                }
            })
            .collect();
        self.run(&mut slots);
    }

    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "io_uring",
            direct: self.direct,
        }
    }

    fn identity(&self) -> Option<(u64, u64)> {
        file_identity(&self.file)
    }

    fn links(&self) -> Option<u64> {
        file_links(&self.file)
    }

    fn record_store(&self) -> Option<&dyn super::RecordStore> {
        Some(&self.record)
    }

    fn doublewrite_store(&self) -> io::Result<Option<&dyn super::RecordStore>> {
        self.area.store()
    }

    fn try_lock(&self) -> io::Result<()> {
        self.lock.take(&self.file)
    }

    fn unlock(&self) {
        self.lock.give_back(&self.file)
    }
}

impl Drop for UringStorage {
    /// Releases the lock, runs the work the kernel deferred to this thread's ring, then closes the file.
    fn drop(&mut self) {
        super::file::unlock(&self.file);
        run_deferred_work();
    }
}

/// Runs the task work the kernel deferred to this thread's ring, if it flagged some (`IORING_SQ_TASKRUN`). A
/// request the kernel handed to an io-wq worker (an fsync always, a write it could not start without blocking) is
/// freed by whichever of the worker and the completion lets go of it last; when that is the worker, the free
/// (and with it the request's reference to the file) is queued to the submitting thread's ring, which, set up
/// with `DEFER_TASKRUN`, runs it only at its next `io_uring_enter` that waits. Until then the kernel keeps the
/// file open with no descriptor of ours: `umount` of its filesystem failed "target is busy" (R25-14 in
/// RELIABILITY.md: 6 of 400 unmounts under load, 0 with `IoBackend::Pread`). Run here before the descriptor is
/// closed, the close drops the last reference. Frees deferred to another thread's ring run at that thread's next
/// I/O, or when its ring is torn down with it.
fn run_deferred_work() {
    let _ = RING.try_with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return;
        };
        if let Some((ring, made_in)) = slot.as_mut() {
            // The ring is clean between calls (module invariants): this submits nothing and reaps nothing; the
            // enter carries GETEVENTS because the flag is set, and so runs the deferred work.
            if *made_in == std::process::id() && ring.submission().taskrun() {
                let _ = ring.submit_and_wait(0);
            }
        }
    });
}

/// What a slot asks of the kernel. The pointers come from buffers borrowed for the slot's lifetime.
#[derive(Clone, Copy)]
enum Op {
    Read(*mut u8),
    Write(*const u8),
    Fsync,
}

/// One request being driven through the ring: the buffer (borrowed for `'a`), how far it has got, and where
/// its outcome goes.
struct Slot<'a> {
    op: Op,
    len: usize,
    offset: u64,
    /// Bytes transferred so far.
    done: usize,
    /// Bytes asked of the entry now in flight.
    asked: usize,
    retries: u32,
    result: &'a mut Option<io::Result<usize>>,
    /// The buffer `op` points into is borrowed, mutably for reads, for as long as the slot lives.
    _buf: PhantomData<&'a mut [u8]>,
}

impl<'a> Slot<'a> {
    fn read(buf: &'a mut [u8], offset: u64, result: &'a mut Option<io::Result<usize>>) -> Slot<'a> {
        Slot::new(Op::Read(buf.as_mut_ptr()), buf.len(), offset, result)
    }

    fn write(buf: &'a [u8], offset: u64, result: &'a mut Option<io::Result<usize>>) -> Slot<'a> {
        Slot::new(Op::Write(buf.as_ptr()), buf.len(), offset, result)
    }

    fn fsync(result: &'a mut Option<io::Result<usize>>) -> Slot<'a> {
        Slot::new(Op::Fsync, 0, 0, result)
    }

    /// Private: callers go through `read`/`write`/`fsync`, which tie the buffer's borrow to `'a`.
    fn new(op: Op, len: usize, offset: u64, result: &'a mut Option<io::Result<usize>>) -> Slot<'a> {
        Slot {
            op,
            len,
            offset,
            done: 0,
            asked: 0,
            retries: 0,
            result,
            _buf: PhantomData,
        }
    }

    /// The submission entry for the rest of this request, tagged with its index.
    fn entry(&mut self, fd: types::Fd, index: usize) -> squeue::Entry {
        let at = self.offset + self.done as u64;
        self.asked = (self.len - self.done).min(SQE_BYTES_MAX);
        // SQE_BYTES_MAX fits in a u32.
        let asked = self.asked as u32;
        let entry = match self.op {
            Op::Read(ptr) => opcode::Read::new(fd, ptr.wrapping_add(self.done), asked)
                .offset(at)
                .build(),
            Op::Write(ptr) => opcode::Write::new(fd, ptr.wrapping_add(self.done), asked)
                .offset(at)
                .build(),
            Op::Fsync => opcode::Fsync::new(fd).flags(types::FsyncFlags::DATASYNC).build(),
        };
        entry.user_data(index as u64)
    }

    /// Takes the completion `res` of this slot's entry; returns true when the request must be resubmitted.
    fn complete(&mut self, res: i32, file: &File) -> bool {
        let outcome = if res < 0 {
            let errno = -res;
            if (errno == libc::EINTR || errno == libc::EAGAIN) && self.retries < RETRIES_MAX {
                self.retries += 1;
                return true;
            }
            Err(io::Error::from_raw_os_error(errno))
        } else {
            let n = res as usize;
            match self.op {
                Op::Fsync => Ok(0),
                Op::Read(_) if n == 0 => Ok(self.done),
                Op::Write(_) if n == 0 => Err(io::Error::from(io::ErrorKind::WriteZero)),
                Op::Read(_) | Op::Write(_) => {
                    self.done += n.min(self.asked);
                    if self.done == self.len {
                        Ok(self.done)
                    } else if matches!(self.op, Op::Read(_)) && n < self.asked {
                        // Short read: end of file, or a transfer cut short that must continue.
                        match file.metadata() {
                            Ok(m) if m.len() <= self.offset + self.done as u64 => Ok(self.done),
                            Ok(_) => return true,
                            Err(e) => Err(e),
                        }
                    } else {
                        return true;
                    }
                }
            }
        };
        *self.result = Some(outcome);
        false
    }
}

/// Whether a ring can be used again after `drive`.
#[derive(PartialEq, Eq, Debug)]
enum RingState {
    Clean,
    Unusable,
}

/// Pushes every slot through `ring`, keeping up to a ring's worth in flight, and returns once each has its
/// result, polling for up to `spin` before each sleep once everything is pushed. See the module docs for the
/// invariants this keeps.
fn drive(ring: &mut IoUring, file: &File, slots: &mut [Slot<'_>], spin: Duration) -> RingState {
    let fd = types::Fd(file.as_raw_fd());
    let capacity = ring.params().sq_entries() as usize;
    let mut next = 0;
    let mut resubmit: Vec<usize> = Vec::new();
    let mut in_flight = 0usize;
    let mut enter_failures = 0u32;
    // Set when the ring refused an `io_uring_enter` outright: push nothing more, let what the kernel holds
    // complete, fail the rest with this error, and have the caller replace the ring.
    let mut refused: Option<io::Error> = None;
    loop {
        if refused.is_none() {
            let mut sq = ring.submission();
            while in_flight < capacity {
                let index = match resubmit.pop() {
                    Some(index) => index,
                    None if next < slots.len() => {
                        next += 1;
                        next - 1
                    }
                    None => break,
                };
                let slot = &mut slots[index];
                if slot.len == 0 && !matches!(slot.op, Op::Fsync) {
                    *slot.result = Some(Ok(0));
                    continue;
                }
                let entry = slot.entry(fd, index);
                // SAFETY: the entry points into `slot`'s buffer, which is borrowed (the `'a` of `Slot`) for
                // the whole of this call, and at `file`, borrowed likewise. This function does not return
                // while the kernel may still use the entry: it loops until `in_flight` (every entry pushed and
                // not yet reaped) is 0; it returns early only after finding that the kernel consumed none of
                // the pending entries, and then the caller drops the ring with them unread; else it aborts.
                if unsafe { sq.push(&entry) }.is_err() {
                    resubmit.push(index);
                    break;
                }
                in_flight += 1;
            }
        }
        if in_flight == 0 {
            return match refused {
                None => RingState::Clean,
                Some(e) => {
                    fail_unfinished(slots, &e);
                    RingState::Unusable
                }
            };
        }
        // With everything pushed, wait for all of it in one call; otherwise wake at the first completion to
        // refill the ring. (If the kernel submits only part of the queue, it returns without waiting, so
        // entries it never consumed cannot keep this waiting.)
        let everything_pushed = refused.is_none() && resubmit.is_empty() && next >= slots.len();
        let want = if everything_pushed { in_flight } else { 1 };
        let entered = if everything_pushed && !spin.is_zero() {
            poll_then_wait(ring, want, spin)
        } else {
            ring.submit_and_wait(want)
        };
        for cqe in ring.completion() {
            in_flight = in_flight.saturating_sub(1);
            let index = cqe.user_data() as usize;
            match slots.get_mut(index) {
                Some(slot) => {
                    if slot.complete(cqe.result(), file) {
                        resubmit.push(index);
                    }
                }
                None => debug_assert!(false, "completion for unknown slot {index}"),
            }
        }
        let Err(e) = entered else {
            enter_failures = 0;
            continue;
        };
        enter_failures += 1;
        let transient = matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY));
        let give_up = !transient || enter_failures >= ENTER_FAILURES_MAX;
        if give_up && ring.submission().len() == in_flight {
            // The kernel consumed none of what is pending, so it holds none of our buffers.
            fail_unfinished(slots, &e);
            return RingState::Unusable;
        }
        if enter_failures >= ENTER_FAILURES_MAX {
            // The kernel holds buffers we cannot prove it is done with; returning would be unsound.
            std::process::abort();
        }
        if !transient {
            refused.get_or_insert(e);
        }
        std::thread::yield_now();
    }
}

/// Submits what is queued, then polls for up to `spin` until `want` completions are in the completion queue,
/// entering the kernel only to run completions it has flagged (`IORING_SQ_TASKRUN`: with `DEFER_TASKRUN` they
/// are posted by an enter with `GETEVENTS`, which `submit` makes when the flag is set); sleeps for them in
/// `submit_and_wait` if they have not all come by then. Returns like `submit_and_wait`.
fn poll_then_wait(ring: &mut IoUring, want: usize, spin: Duration) -> io::Result<usize> {
    let submitted = ring.submit()?;
    let start = Instant::now();
    loop {
        if ring.completion().len() >= want {
            return Ok(submitted);
        }
        if start.elapsed() >= spin {
            return ring.submit_and_wait(want).map(|more| submitted + more);
        }
        if ring.submission().taskrun() {
            ring.submit()?;
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Gives every slot without a result the error `e`.
fn fail_unfinished(slots: &mut [Slot<'_>], e: &io::Error) {
    for slot in slots.iter_mut() {
        if slot.result.is_none() {
            *slot.result = Some(Err(copy_error(e)));
        }
    }
}

/// `io::Error` is not `Clone`; this keeps the OS error code, or the kind and message.
fn copy_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::AlignedBuf;

    #[test]
    #[cfg_attr(miri, ignore)] // O_DIRECT and io_uring are system calls Miri cannot run
    fn probe_is_cached_and_open_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let first = uring_available();
        assert_eq!(first, uring_available());
        let opened = UringStorage::open(dir.path().join("f"), OpenMode::DirectOrBuffered);
        assert_eq!(opened.is_ok(), first, "{opened:?}");
        if let Err(e) = opened {
            assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)] // O_DIRECT and io_uring are system calls Miri cannot run
    fn batch_larger_than_the_ring() {
        // No spin (sleep at once), a spin shorter than any I/O (poll, then sleep), and one longer than any
        // (completions reaped by polling alone).
        for spin in [Duration::ZERO, Duration::from_nanos(1), Duration::from_secs(5)] {
            batch_round_trip(spin);
        }
    }

    fn batch_round_trip(spin: Duration) {
        if !uring_available() {
            eprintln!("io_uring unavailable here: skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let s = UringStorage::open(dir.path().join("f"), OpenMode::DirectOrBuffered)
            .unwrap()
            .with_completion_spin(spin);
        let pages = RING_ENTRIES as usize * 3 + 5;
        let mut bufs: Vec<AlignedBuf> = (0..pages)
            .map(|i| {
                let mut b = AlignedBuf::zeroed(4096);
                b.fill(i as u8);
                b
            })
            .collect();
        let mut batch: Vec<IoRequest<'_>> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| IoRequest::write(i as u64 * 4096, b))
            .collect();
        s.submit(&mut batch);
        assert!(batch.iter().all(|r| matches!(r.result, Some(Ok(4096)))));
        drop(batch);
        for b in bufs.iter_mut() {
            b.fill(0xee);
        }
        let mut batch: Vec<IoRequest<'_>> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| IoRequest::read(i as u64 * 4096, b))
            .collect();
        s.submit(&mut batch);
        assert!(batch.iter().all(|r| matches!(r.result, Some(Ok(4096)))));
        drop(batch);
        for (i, b) in bufs.iter().enumerate() {
            assert!(b.iter().all(|&x| x == i as u8), "page {i}, spin {spin:?}");
        }
        // One request at a time, as a miss or a single write-back makes them.
        let mut one = AlignedBuf::zeroed(4096);
        one.fill(0x5a);
        s.write_at(&one, 4096).unwrap();
        s.sync().unwrap();
        one.fill(0);
        assert_eq!(s.read_at(&mut one, 4096).unwrap(), 4096);
        assert!(one.iter().all(|&x| x == 0x5a), "single read, spin {spin:?}");
    }

    /// The completion logic without a kernel: short transfers continue, EOF stops, retries are bounded.
    #[test]
    fn completion_rules() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("f")).unwrap();
        file.set_len(3 * 4096).unwrap();
        let fd = types::Fd(file.as_raw_fd());

        // A read cut short inside the file continues where it stopped.
        let mut buf = vec![0u8; 2 * 4096];
        let mut result = None;
        let mut slot = Slot::read(&mut buf, 0, &mut result);
        slot.entry(fd, 0);
        assert!(slot.complete(4096, &file), "short read inside the file continues");
        assert_eq!(slot.done, 4096);
        slot.entry(fd, 0);
        assert_eq!(slot.asked, 4096, "the continuation asks for the rest");
        assert!(!slot.complete(4096, &file));
        assert!(matches!(result, Some(Ok(8192))));

        // A read cut short at the end of the file is a legitimate short count.
        let mut result = None;
        let mut slot = Slot::read(&mut buf, 2 * 4096, &mut result);
        slot.entry(fd, 0);
        assert!(!slot.complete(4096, &file));
        assert!(matches!(result, Some(Ok(4096))));

        // A read of nothing is end of file, keeping what was read before.
        let mut result = None;
        let mut slot = Slot::read(&mut buf, 2 * 4096, &mut result);
        slot.entry(fd, 0);
        assert!(slot.complete(1024, &file), "short, and the file goes on");
        slot.entry(fd, 0);
        assert!(!slot.complete(0, &file));
        assert!(matches!(result, Some(Ok(1024))));

        // EINTR and EAGAIN are retried, a bounded number of times.
        let mut result = None;
        let mut slot = Slot::read(&mut buf, 0, &mut result);
        slot.entry(fd, 0);
        for _ in 0..RETRIES_MAX {
            assert!(slot.complete(-libc::EINTR, &file));
        }
        assert!(!slot.complete(-libc::EAGAIN, &file));
        let err = result.unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));

        // Other errors are final.
        let mut result = None;
        let mut slot = Slot::read(&mut buf, 0, &mut result);
        slot.entry(fd, 0);
        assert!(!slot.complete(-libc::EIO, &file));
        assert_eq!(result.unwrap().unwrap_err().raw_os_error(), Some(libc::EIO));

        // A short write continues; a write of nothing is an error.
        let data = vec![7u8; 8192];
        let mut result = None;
        let mut slot = Slot::write(&data, 0, &mut result);
        slot.entry(fd, 0);
        assert!(slot.complete(100, &file));
        slot.entry(fd, 0);
        assert_eq!(slot.asked, 8092);
        assert!(!slot.complete(0, &file));
        assert_eq!(result.unwrap().unwrap_err().kind(), io::ErrorKind::WriteZero);

        // fsync reports success as a count of 0.
        let mut result = None;
        let mut slot = Slot::fsync(&mut result);
        slot.entry(fd, 0);
        assert!(!slot.complete(0, &file));
        assert!(matches!(result, Some(Ok(0))));
    }

    /// As for `FileStorage`: the lock goes with the storage, not with the last reference to its file.
    #[test]
    #[cfg_attr(miri, ignore)] // io_uring and flock are system calls Miri cannot run
    fn dropping_the_storage_releases_its_lock_though_the_file_lives_on() {
        if !uring_available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let first = UringStorage::open(&path, OpenMode::Buffered).unwrap();
        first.try_lock().unwrap();
        let lingering = first.file.try_clone().unwrap(); // the same open file description
        let second = UringStorage::open(&path, OpenMode::Buffered).unwrap();
        assert_eq!(second.try_lock().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        drop(first);
        second.try_lock().expect("the dropped storage released its lock");
        drop(lingering);
    }
}
