//! A tmpfs mounted for one test (tests run as root, as `scripts/test.sh` and CI do): a small
//! one for disk-full paths, a roomy one where a test writes tens of thousands of small files.

use super::require;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted when dropped (lazily if something still holds it).
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of at most `size` (mount(8)'s syntax: `64k`, `16m`, `1g`) at `at`,
    /// creating the directory; fails the test when it cannot.
    pub fn mount(at: &Path, size: &str) -> Tmpfs {
        require("mount");
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            mounted,
            "cannot mount a tmpfs at {}: run the tests as root (scripts/test.sh, as CI does)",
            at.display()
        );
        Tmpfs(at.to_path_buf())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Grows or shrinks the mounted tmpfs to `size` (what freeing space looks like).
    pub fn resize(&self, size: &str) {
        super::run_ok(
            Command::new("mount")
                .args(["-o", &format!("remount,size={size}")])
                .arg(&self.0),
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.0).status();
        if !unmounted.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}
