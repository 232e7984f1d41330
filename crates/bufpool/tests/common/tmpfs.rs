//! A small tmpfs for tests of a full device: mounted where this process may (root), unmounted on drop.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// Unmounts (lazily) on drop, so a failed assertion does not leave the mount behind. The thread's first mount
/// holds [`ONE_AT_A_TIME`] until then (a test may mount several).
pub struct Mount(PathBuf, #[allow(dead_code)] Option<MutexGuard<'static, ()>>);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        MOUNTS_HERE.with(|n| n.set(n.get() - 1));
    }
}

/// The tests of one binary that use a tmpfs run one at a time. Each forks `mount`, `umount` and `remount`, and a
/// forked child holds a copy of every descriptor of the process until it execs: a test that closed and removed
/// its filler file meanwhile still had the file's blocks taken, and its next write failed with ENOSPC (seen once
/// in CI, session 33, `fault_enospc::a_new_file_on_a_full_device_is_refused_and_opens_once_space_is_back`).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread's mounts not yet dropped: only the first takes [`ONE_AT_A_TIME`].
    static MOUNTS_HERE: Cell<u32> = const { Cell::new(0) };
}

/// Mounts a tmpfs of `size` (as `mount -o size=`: "64k", "8m") on `dir`; `Err` says why not (not root, no
/// `mount`, refused).
pub fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
    mount(dir, size, true)
}

/// [`mount_tmpfs`] without taking [`ONE_AT_A_TIME`], for a test that fills its device with a file it only ever
/// truncates (never removes), so a forked child's copy of its descriptor cannot keep the space taken: the
/// whole-API model's full device (`tests/common/model.rs`, session 40), which runs beside the other model runs.
#[allow(dead_code)] // not every test binary that includes `common` mounts one
pub fn mount_tmpfs_shared(dir: &Path, size: &str) -> Result<Mount, String> {
    mount(dir, size, false)
}

fn mount(dir: &Path, size: &str, alone: bool) -> Result<Mount, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    // A test that failed while holding it leaves it poisoned; the next one may run all the same.
    let one = (alone && MOUNTS_HERE.get() == 0).then(|| ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()));
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if !out.status.success() {
        return Err(format!("mount failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    MOUNTS_HERE.with(|n| n.set(n.get() + 1));
    Ok(Mount(dir.to_path_buf(), one))
}

/// Resizes the tmpfs (a full device gets room, or loses it).
pub fn remount(mount: &Mount, size: &str) {
    let ok = Command::new("mount")
        .args(["-o", &format!("remount,size={size}")])
        .arg(&mount.0)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "remount to {size}");
}

/// Fills the file system `dir` is on: a file `fill` in `dir` written 4 KiB at a time until the device refuses
/// with ENOSPC (any other error fails the test). The space stays taken while the returned file is open and the
/// file is there.
pub fn fill(dir: &Path) -> std::fs::File {
    let mut f = std::fs::File::create(dir.join("fill")).unwrap();
    loop {
        match f.write_all(&[7u8; 4096]) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return f,
            r => r.unwrap(),
        }
    }
}
