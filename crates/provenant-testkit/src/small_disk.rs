//! A file system of a few MiB, for tests of a disk that fills up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A small file system of its own (a tmpfs) mounted on a fresh directory
/// `path`; unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    pub path: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB at `path` (created if need be). Mounting
    /// takes root: where it fails the test is [`crate::skip`]ped, which is a
    /// failure under `CI`, and this returns `None`.
    pub fn mount(path: &Path, mib: u32) -> Option<Self> {
        let mounted = std::fs::create_dir_all(path).is_ok()
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
                .arg(path)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if mounted {
            return Some(Self {
                path: path.to_path_buf(),
            });
        }
        crate::skip(format_args!(
            "cannot mount a {mib} MiB tmpfs at {} (needs root)",
            path.display()
        ));
        None
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}
