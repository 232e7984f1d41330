//! An ext4 filesystem on a loop device for tests of real device faults (a filesystem the kernel forces read-only,
//! a full one grown afterwards): made in an image file, mounted where this process may (root, `mkfs.ext4`,
//! `mount -o loop`), unmounted on drop. Used by `fault_read_only.rs` and, through `#[path]`, by bufpool-cli's
//! `tpcc_real_faults.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An ext4 image mounted on a loop device; unmounted (lazily) on drop.
pub struct Ext4 {
    /// The image file.
    pub image: PathBuf,
    /// Where it is mounted.
    pub mnt: PathBuf,
}

impl Ext4 {
    /// Makes an ext4 image of `bytes` in `dir` and mounts it (`errors=remount-ro`) on `dir/mnt`; `Err` says why
    /// not (not root, a tool missing, refused).
    pub fn new(dir: &Path, bytes: u64) -> Result<Ext4, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        let image = dir.join("ext4.img");
        let mnt = dir.join("mnt");
        std::fs::create_dir(&mnt).map_err(|e| e.to_string())?;
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(bytes))
            .map_err(|e| e.to_string())?;
        run("mkfs.ext4", &["-q", "-F"], &image)?;
        let fs = Ext4 { image, mnt };
        fs.mount()?;
        Ok(fs)
    }

    /// Mounts the image again (after [`Ext4::unmount`]).
    pub fn mount(&self) -> Result<(), String> {
        let out = Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(&self.image)
            .arg(&self.mnt)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(())
    }

    /// The kernel's own error path: ext4 aborts its journal and remounts read-only.
    pub fn force_read_only(&self) -> Result<(), String> {
        let out = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.mnt)
            .output()
            .map_err(|e| format!("cannot run findmnt: {e}"))?;
        let source = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let dev = Path::new(&source).file_name().ok_or("no loop device")?.to_owned();
        let trigger = Path::new("/sys/fs/ext4").join(dev).join("trigger_fs_error");
        std::fs::write(&trigger, "bufpool read-only test").map_err(|e| format!("{}: {e}", trigger.display()))
    }

    /// Unmounts, retrying a busy mount for up to 5 s; panics naming what holds it.
    pub fn unmount(&self) {
        // "Busy" was seen in CI (session 21 once, then now and then) and taken for a freshly aborted ext4's moment:
        // it was the pool's file, still referenced by the kernel for a free the io_uring backend's ring had
        // deferred (R25-14 in RELIABILITY.md), which no retry ends since only the ring's next wait runs it. The
        // retries stay for a filesystem's own moment; a failure names what holds the mount (our descriptors
        // there, `fuser`'s view of every process's).
        let mut last = String::new();
        for _ in 0..50 {
            match Command::new("umount").arg(&self.mnt).output() {
                Ok(out) if out.status.success() => return,
                Ok(out) => last = String::from_utf8_lossy(&out.stderr).trim().to_string(),
                Err(e) => last = format!("cannot run umount: {e}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let ours = links_under(&self.mnt);
        let fuser = Command::new("fuser")
            .arg("-vm")
            .arg(&self.mnt)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
            .unwrap_or_else(|e| format!("cannot run fuser: {e}"));
        panic!(
            "umount {}: {last}; our descriptors there: {ours:?}; fuser: {fuser}",
            self.mnt.display()
        );
    }
}

impl Ext4 {
    /// `e2fsck -f -y` of the (unmounted) image: what the operator runs after the kernel forced it read-only.
    pub fn fsck(&self) -> Result<(), String> {
        run("e2fsck", &["-f", "-y"], &self.image)
    }

    /// Grows the (unmounted) image to `bytes` and its filesystem with it (`resize2fs`): room on a full device.
    pub fn grow(&self, bytes: u64) -> Result<(), String> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.image)
            .and_then(|f| f.set_len(bytes))
            .map_err(|e| e.to_string())?;
        self.fsck()?;
        run("resize2fs", &[], &self.image)
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        // After a failed assertion the filesystem may still be mounted (the test's own unmount is quiet).
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mnt)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// This process's descriptors that link to a path under `dir`.
pub fn links_under(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .map(|fds| {
            fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|target| target.starts_with(dir))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `cmd args path`; `Err` with its stderr if it failed.
fn run(cmd: &str, args: &[&str], path: &Path) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    // e2fsck exits 1 when it corrected errors: the expected outcome after an aborted journal.
    if out.status.success() || (cmd == "e2fsck" && out.status.code() == Some(1)) {
        Ok(())
    } else {
        Err(format!("{cmd}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}
