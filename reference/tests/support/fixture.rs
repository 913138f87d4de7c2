//! A btrfs filesystem on a loop image made for one test: sparse image file, loop device,
//! `mkfs.btrfs`, mount. `Drop` unmounts (lazily if busy), detaches the loop device it
//! attached and removes the image and its directory. It only ever acts on the device and
//! mount it created itself.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted btrfs filesystem owned by a test.
pub struct BtrfsImage {
    pub dir: PathBuf,
    pub mnt: PathBuf,
    device: Option<String>,
    mounted: bool,
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl BtrfsImage {
    /// Creates and mounts a fresh filesystem of `size_mib` MiB.
    pub fn new(label: &str, size_mib: u64) -> BtrfsImage {
        let dir = super::scratch_dir(label);
        let mut fs = BtrfsImage { mnt: dir.join("mnt"), dir, device: None, mounted: false };
        fs.setup(size_mib).unwrap_or_else(|e| panic!("cannot set up btrfs image {label}: {e}"));
        fs
    }

    fn setup(&mut self, size_mib: u64) -> Result<(), String> {
        let image = self.dir.join("fs.img");
        let file = std::fs::File::create(&image).map_err(|e| e.to_string())?;
        file.set_len(size_mib * 1024 * 1024).map_err(|e| e.to_string())?;
        let device = run("losetup", &["--find", "--show", image.to_str().unwrap()])?;
        self.device = Some(device.clone());
        run("mkfs.btrfs", &["-q", "-f", &device])?;
        std::fs::create_dir_all(&self.mnt).map_err(|e| e.to_string())?;
        run("mount", &[&device, self.mnt.to_str().unwrap()])?;
        self.mounted = true;
        Ok(())
    }

    /// Creates a subvolume at `<mnt>/<rel>`.
    pub fn create_subvolume(&self, rel: &str) -> PathBuf {
        let path = self.mnt.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        run("btrfs", &["subvolume", "create", path.to_str().unwrap()]).unwrap();
        path
    }

    /// Deletes a subvolume (used to clean a restore target between steps).
    pub fn delete_subvolume(path: &Path) {
        run("btrfs", &["subvolume", "delete", path.to_str().unwrap()]).unwrap();
    }

    /// True if `path` is a read-only subvolume.
    pub fn is_readonly(path: &Path) -> bool {
        run("btrfs", &["property", "get", "-ts", path.to_str().unwrap(), "ro"]).map(|s| s.contains("ro=true")).unwrap_or(false)
    }
}

impl Drop for BtrfsImage {
    fn drop(&mut self) {
        if self.mounted {
            let mnt = self.mnt.to_str().unwrap().to_string();
            if run("umount", &[&mnt]).is_err() {
                std::thread::sleep(std::time::Duration::from_millis(300));
                if run("umount", &[&mnt]).is_err() {
                    let _ = run("umount", &["-l", &mnt]);
                }
            }
        }
        if let Some(device) = self.device.take() {
            let _ = run("losetup", &["-d", &device]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
