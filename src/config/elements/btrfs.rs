//! `[btrfs]`: the loop-file filesystems the fixture creates.
//!
//! Keys: `image_size_bytes` and `restore_image_size_bytes` (default 2 GiB each, at least
//! 128 MiB, the smallest size mkfs.btrfs accepts comfortably), `subvolumes` (default
//! `["data", "root", "home"]`; names of `A-Z a-z 0-9 . _ -`, unique, not `.` or `..`,
//! because a name becomes a path basename, an S3 key segment and a `subvolume=` log
//! value), `mount_options` (default `[]`, each without `,`; joined with `,` for
//! `mount -o`).
//!
//! This module validates the section; it creates no image and mounts nothing.

use crate::config::error::ConfigError;
use crate::config::reader::Section;

const MIN_IMAGE_BYTES: u64 = 128 * 1024 * 1024;
const DEFAULT_IMAGE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The validated `[btrfs]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtrfsSection {
    pub image_size_bytes: u64,
    pub restore_image_size_bytes: u64,
    pub subvolumes: Vec<String>,
    pub mount_options: Vec<String>,
}

pub(crate) fn read(mut s: Section<'_>) -> Result<BtrfsSection, ConfigError> {
    let image_size_bytes =
        s.u64_at_least("image_size_bytes", DEFAULT_IMAGE_BYTES, MIN_IMAGE_BYTES)?;
    let restore_image_size_bytes = s.u64_at_least(
        "restore_image_size_bytes",
        DEFAULT_IMAGE_BYTES,
        MIN_IMAGE_BYTES,
    )?;
    let default_subvolumes = ["data", "root", "home"].map(String::from).to_vec();
    let subvolumes = s.string_list("subvolumes")?.unwrap_or(default_subvolumes);
    check_subvolumes(&s, &subvolumes)?;
    let mount_options = s.string_list("mount_options")?.unwrap_or_default();
    if let Some(bad) = mount_options
        .iter()
        .find(|o| o.is_empty() || o.contains(','))
    {
        let expected = "mount options as separate strings, none empty or containing ','";
        return Err(s.invalid("mount_options", expected, format!("{bad:?}")));
    }
    s.finish()?;
    Ok(BtrfsSection {
        image_size_bytes,
        restore_image_size_bytes,
        subvolumes,
        mount_options,
    })
}

fn check_subvolumes(s: &Section<'_>, names: &[String]) -> Result<(), ConfigError> {
    let expected = "1 or more unique names of A-Z a-z 0-9 . _ - (not . or ..)";
    if names.is_empty() {
        return Err(s.invalid("subvolumes", expected, "[]"));
    }
    for (i, name) in names.iter().enumerate() {
        let charset_ok = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        if name.is_empty() || !charset_ok || name == "." || name == ".." {
            return Err(s.invalid("subvolumes", expected, format!("{name:?}")));
        }
        if names[..i].contains(name) {
            return Err(s.invalid("subvolumes", expected, format!("{name:?} twice")));
        }
    }
    Ok(())
}
