//! Manifest chain resolution for restore (CONTRACT.md section 12, steps 1-2): read the
//! pointer (or take `--manifest-key`), then follow `parent_manifest` back to a full,
//! detecting loops and chains that do not end in a full. This module only reads S3; it
//! must not receive anything or touch the target.

use std::collections::HashSet;

use crate::bugs::{self, Bug};
use crate::manifest::{Kind, Manifest, Pointer};
use crate::s3::{GetError, Store};

fn fetch(store: &Store, key: &str) -> Result<Vec<u8>, String> {
    store.get_all(key).map_err(|e| match e {
        GetError::Missing => format!("missing object {key}"),
        GetError::Other(message) => message,
    })
}

/// The `manifest_key` named by the pointer at `pointer_key`.
pub fn read_pointer(store: &Store, pointer_key: &str) -> Result<String, String> {
    let bytes = fetch(store, pointer_key)?;
    Pointer::manifest_key_of(pointer_key, &bytes)
}

/// The chain ending at `head_key`, oldest (the full) first.
pub fn resolve(store: &Store, head_key: &str) -> Result<Vec<Manifest>, String> {
    let mut seen = HashSet::new();
    let mut chain = Vec::new();
    let mut next = Some(head_key.to_string());
    while let Some(key) = next {
        if !seen.insert(key.clone()) {
            return Err(format!("manifest chain loop detected at {key}"));
        }
        let manifest = Manifest::parse(&key, &fetch(store, &key)?)?;
        next = manifest.parent_manifest.clone().filter(|k| !k.is_empty());
        chain.push(manifest);
    }
    chain.reverse();
    if chain.first().map(|m| m.kind) != Some(Kind::Full) {
        return Err("manifest chain does not end in full backup".to_string());
    }
    if bugs::on(Bug::RestoreFullOnly) {
        // Defect: only the full of the chain is applied (and later verified against).
        chain.truncate(1);
    }
    Ok(chain)
}
