//! A small tmpfs for tests of a full device: mounted where this process may (root), unmounted on drop.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Unmounts (lazily) on drop, so a failed assertion does not leave the mount behind.
pub struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Mounts a tmpfs of `size` (as `mount -o size=`: "64k", "8m") on `dir`; `Err` says why not (not root, no
/// `mount`, refused).
pub fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if !out.status.success() {
        return Err(format!("mount failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(Mount(dir.to_path_buf()))
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
