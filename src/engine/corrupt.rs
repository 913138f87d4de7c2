//! Corrupting a backup so that only its manifest's SHA-256 can tell: one byte of file
//! data in a `btrfs send` write command is changed and the command's CRC recomputed, so
//! `btrfs receive` would accept the altered stream and restore wrong content. A restore
//! that checks each chunk against the manifest (CONTRACT.md 12) must refuse it.
//!
//! Pure functions over bytes: parse the stream's commands, alter one write, and tell
//! which chunks of the stream changed. The executor serves those chunks through the
//! fault proxy (`restore_fault`); nothing in the store is ever rewritten.

/// The magic that starts every send stream, NUL included.
const MAGIC: &[u8] = b"btrfs-stream\0";
/// Magic plus the `u32` version.
const STREAM_HEADER: usize = MAGIC.len() + 4;
/// `u32` length, `u16` command, `u32` CRC.
const COMMAND_HEADER: usize = 10;
const CMD_WRITE: u16 = 15;
const ATTR_PATH: u16 = 15;
const ATTR_FILE_OFFSET: u16 = 18;
const ATTR_DATA: u16 = 19;

/// CRC-32C as btrfs send computes it (seed 0, no final inversion).
pub fn btrfs_crc32c(bytes: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ if crc & 1 == 1 { 0x82F6_3B78 } else { 0 };
        }
    }
    crc
}

/// One write command with file data, as found in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCommand {
    /// Offset of the command's header in the stream.
    pub start: usize,
    /// Offset and length of its data in the stream.
    pub data_start: usize,
    pub data_len: usize,
    /// The file it writes (relative to the subvolume) and where in it.
    pub path: String,
    pub file_offset: u64,
}

/// What [`corrupt`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupted {
    /// The altered stream (same length as the original).
    pub stream: Vec<u8>,
    pub path: String,
    /// The file offset of the altered byte.
    pub file_offset: u64,
    /// The altered byte's offset in the stream.
    pub stream_offset: usize,
}

/// The write commands with data in `stream`, in order; `None` if it is not a send
/// stream. A truncated last command ends the walk.
pub fn write_commands(stream: &[u8]) -> Option<Vec<WriteCommand>> {
    if stream.len() < STREAM_HEADER || &stream[..MAGIC.len()] != MAGIC {
        return None;
    }
    let version = u32::from_le_bytes(stream[MAGIC.len()..STREAM_HEADER].try_into().ok()?);
    let mut writes = Vec::new();
    let mut pos = STREAM_HEADER;
    while pos + COMMAND_HEADER <= stream.len() {
        let len = u32::from_le_bytes(stream[pos..pos + 4].try_into().ok()?) as usize;
        let cmd = u16::from_le_bytes(stream[pos + 4..pos + 6].try_into().ok()?);
        let end = pos + COMMAND_HEADER + len;
        if end > stream.len() {
            break;
        }
        if cmd == CMD_WRITE {
            if let Some(w) = parse_write(stream, pos, end, version) {
                writes.push(w);
            }
        }
        pos = end;
    }
    Some(writes)
}

/// The attributes of the write command at `start` (ending at `end`); `None` without
/// data. From version 2 on the data attribute has no length and runs to the end.
fn parse_write(stream: &[u8], start: usize, end: usize, version: u32) -> Option<WriteCommand> {
    let (mut path, mut file_offset, mut data) = (None, None, None);
    let mut q = start + COMMAND_HEADER;
    while q + 2 <= end {
        let attr = u16::from_le_bytes(stream[q..q + 2].try_into().ok()?);
        if attr == ATTR_DATA && version >= 2 {
            data = Some((q + 2, end - (q + 2)));
            break;
        }
        if q + 4 > end {
            return None;
        }
        let len = u16::from_le_bytes(stream[q + 2..q + 4].try_into().ok()?) as usize;
        let value = q + 4..q + 4 + len;
        if value.end > end {
            return None;
        }
        match attr {
            ATTR_PATH => path = Some(String::from_utf8_lossy(&stream[value.clone()]).into_owned()),
            ATTR_FILE_OFFSET if len == 8 => {
                file_offset = Some(u64::from_le_bytes(stream[value.clone()].try_into().ok()?))
            }
            ATTR_DATA => data = Some((value.start, len)),
            _ => {}
        }
        q = value.end;
    }
    let (data_start, data_len) = data.filter(|(_, len)| *len > 0)?;
    Some(WriteCommand {
        start,
        data_start,
        data_len,
        path: path.unwrap_or_default(),
        file_offset: file_offset.unwrap_or(0),
    })
}

/// `stream` with one data byte of one write command inverted (`pick` chooses which)
/// and that command's CRC recomputed; `None` if the stream has no write with data.
pub fn corrupt(stream: &[u8], pick: u64) -> Option<Corrupted> {
    let writes = write_commands(stream)?;
    if writes.is_empty() {
        return None;
    }
    let w = &writes[(pick % writes.len() as u64) as usize];
    let within = ((pick / writes.len() as u64) % w.data_len as u64) as usize;
    let mut out = stream.to_vec();
    let at = w.data_start + within;
    out[at] ^= 0xFF;
    let len = u32::from_le_bytes(out[w.start..w.start + 4].try_into().ok()?) as usize;
    let command = w.start..w.start + COMMAND_HEADER + len;
    out[w.start + 6..w.start + 10].fill(0);
    let crc = btrfs_crc32c(&out[command]);
    out[w.start + 6..w.start + 10].copy_from_slice(&crc.to_le_bytes());
    Some(Corrupted {
        stream: out,
        path: w.path.clone(),
        file_offset: w.file_offset + within as u64,
        stream_offset: at,
    })
}

/// The chunks (index and new bytes) that differ between `old` and `new`, both cut
/// into consecutive chunks of `sizes` bytes.
pub fn changed_chunks(sizes: &[u64], old: &[u8], new: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    for (i, size) in sizes.iter().enumerate() {
        let end = (start + *size as usize).min(old.len()).min(new.len());
        if old[start..end] != new[start..end] {
            out.push((i, new[start..end].to_vec()));
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::testkit::send_stream;

    #[test]
    fn the_writes_of_a_synthetic_stream_are_found_with_their_path_and_offset() {
        let stream = send_stream("snap", 100 * 1024, None);
        let writes = write_commands(&stream).unwrap();
        assert_eq!(writes.len(), 3, "{writes:?}");
        assert_eq!(writes[1].path, "file");
        assert_eq!(writes[1].file_offset, 48 * 1024);
        assert_eq!(writes[1].data_len, 48 * 1024);
        assert_eq!(writes[2].data_len, 4 * 1024);
    }

    #[test]
    fn a_corrupted_stream_differs_in_one_data_byte_and_the_crc_only_and_the_crc_is_valid() {
        let stream = send_stream("snap", 100 * 1024, None);
        let c = corrupt(&stream, 7).unwrap();
        let differ: Vec<usize> =
            (0..stream.len()).filter(|i| stream[*i] != c.stream[*i]).collect();
        assert!(differ.contains(&c.stream_offset));
        assert!(differ.len() <= 5, "{differ:?}");
        // Every command's CRC still checks out.
        let mut pos = STREAM_HEADER;
        while pos + COMMAND_HEADER <= c.stream.len() {
            let len = u32::from_le_bytes(c.stream[pos..pos + 4].try_into().unwrap()) as usize;
            let mut cmd = c.stream[pos..pos + COMMAND_HEADER + len].to_vec();
            let crc = u32::from_le_bytes(cmd[6..10].try_into().unwrap());
            cmd[6..10].fill(0);
            assert_eq!(btrfs_crc32c(&cmd), crc, "command at {pos}");
            pos += COMMAND_HEADER + len;
        }
    }

    #[test]
    fn the_pick_chooses_the_write_and_the_byte_and_is_deterministic() {
        let stream = send_stream("snap", 100 * 1024, None);
        assert_eq!(corrupt(&stream, 5), corrupt(&stream, 5));
        let a = corrupt(&stream, 0).unwrap();
        let b = corrupt(&stream, 1).unwrap();
        assert_ne!(a.file_offset / (48 * 1024), b.file_offset / (48 * 1024));
    }

    #[test]
    fn a_stream_without_data_or_not_a_stream_cannot_be_corrupted() {
        assert_eq!(corrupt(&send_stream("snap", 0, None), 3), None);
        assert_eq!(corrupt(b"not a send stream at all", 3), None);
    }

    #[test]
    fn changed_chunks_names_each_chunk_that_holds_a_changed_byte() {
        let old = vec![0u8; 100];
        let mut new = old.clone();
        new[45] = 1;
        new[50] = 1;
        let changed = changed_chunks(&[40, 40, 20], &old, &new);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].0, 1);
        assert_eq!(changed[0].1.len(), 40);
        new[99] = 1;
        let idx: Vec<usize> =
            changed_chunks(&[40, 40, 20], &old, &new).iter().map(|c| c.0).collect();
        assert_eq!(idx, vec![1, 2]);
    }
}
