//! The model of one regular file's bytes: a length plus non-overlapping data pieces,
//! each a window of a [`Pattern`] stream; every byte not covered by a piece is zero (a
//! hole, or zeros written as such). Files are never held in memory: hashing streams the
//! pieces. Writes, truncation and hole punching split pieces exactly as the kernel
//! would change the bytes; holes and written zeros are deliberately not told apart
//! (a scan reads holes as zeros, and btrfs may turn holes into zeros on receive).

use std::cell::OnceCell;
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::gen::content::{self, BUF_LEN};
use crate::gen::plan::{Content, Pattern};

/// A window of a pattern stream, starting at stream position `pos`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    len: u64,
    pattern: Pattern,
    pos: u64,
}

/// One regular file's content.
#[derive(Debug, Clone, Default)]
pub struct FileData {
    len: u64,
    /// Start offset -> piece; pieces never overlap and never extend past `len`.
    pieces: BTreeMap<u64, Piece>,
    /// Lowercase hex SHA-256, computed on demand and reset by every change.
    sha: OnceCell<String>,
}

impl PartialEq for FileData {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.pieces == other.pieces
    }
}

impl FileData {
    /// A file holding exactly `c`.
    pub fn from_content(c: &Content) -> FileData {
        let mut f = FileData::default();
        f.write(0, c);
        f
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `pwrite(offset, c)`: a zero-length write changes nothing, a write past the end
    /// extends the file with a hole.
    pub fn write(&mut self, offset: u64, c: &Content) {
        if c.len == 0 {
            return;
        }
        self.changed();
        let end = offset + c.len;
        self.remove_range(offset, end);
        if c.pattern != Pattern::Zeros {
            self.pieces.insert(offset, Piece { len: c.len, pattern: c.pattern, pos: 0 });
        }
        self.len = self.len.max(end);
    }

    /// `ftruncate(len)`: cuts data past `len`; growing adds a hole.
    pub fn truncate(&mut self, len: u64) {
        self.changed();
        self.remove_range(len, u64::MAX);
        self.len = len;
    }

    /// `fallocate(PUNCH_HOLE | KEEP_SIZE, offset, len)`: zeros the range, keeps the size.
    pub fn punch(&mut self, offset: u64, len: u64) {
        self.changed();
        self.remove_range(offset, offset.saturating_add(len));
    }

    fn changed(&mut self) {
        self.sha = OnceCell::new();
    }

    /// Drops the data in `[start, end)`, splitting pieces that straddle the bounds.
    fn remove_range(&mut self, start: u64, end: u64) {
        let hit: Vec<u64> = self
            .pieces
            .range(..end)
            .rev()
            .take_while(|(k, p)| **k + p.len > start)
            .map(|(k, _)| *k)
            .collect();
        for key in hit {
            let piece = self.pieces.remove(&key).expect("piece listed above");
            let piece_end = key + piece.len;
            if key < start {
                self.pieces.insert(key, Piece { len: start - key, ..piece.clone() });
            }
            if piece_end > end {
                let cut = end - key;
                self.pieces.insert(
                    end,
                    Piece { len: piece_end - end, pattern: piece.pattern, pos: piece.pos + cut },
                );
            }
        }
    }

    /// Feeds the file's bytes, in order, to `sink` in slices of at most [`BUF_LEN`].
    pub fn stream(&self, mut sink: impl FnMut(&[u8])) {
        let zeros = vec![0u8; BUF_LEN];
        let emit_zeros = |mut n: u64, sink: &mut dyn FnMut(&[u8])| {
            while n > 0 {
                let k = n.min(BUF_LEN as u64) as usize;
                sink(&zeros[..k]);
                n -= k as u64;
            }
        };
        let mut at = 0u64;
        for (start, piece) in &self.pieces {
            emit_zeros(start - at, &mut sink);
            content::stream(&piece.pattern, piece.pos, piece.len, |b| {
                sink(b);
                Ok(())
            })
            .expect("an in-memory sink cannot fail");
            at = start + piece.len;
        }
        emit_zeros(self.len - at, &mut sink);
    }

    /// The whole content in memory; for tests and small files.
    pub fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len as usize);
        self.stream(|b| v.extend_from_slice(b));
        v
    }

    /// Lowercase hex SHA-256 of the content (cached until the next change).
    pub fn sha256(&self) -> &str {
        self.sha.get_or_init(|| {
            let mut h = Sha256::new();
            self.stream(|b| h.update(b));
            hex::encode(h.finalize())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: u64, seed: u64) -> Content {
        Content { len, pattern: Pattern::Random { seed } }
    }

    #[test]
    fn an_overwrite_in_the_middle_keeps_both_ends_of_the_old_data() {
        let mut f = FileData::from_content(&random(100, 1));
        let old = f.bytes();
        f.write(40, &random(10, 2));
        let new = f.bytes();
        assert_eq!(new[..40], old[..40]);
        assert_eq!(new[50..], old[50..]);
        assert_eq!(new[40..50], content::bytes(&random(10, 2))[..]);
    }

    #[test]
    fn a_write_past_the_end_leaves_a_hole_of_zeros() {
        let mut f = FileData::from_content(&random(10, 1));
        f.write(20, &random(5, 3));
        let b = f.bytes();
        assert_eq!(b.len(), 25);
        assert!(b[10..20].iter().all(|&x| x == 0));
    }

    #[test]
    fn the_cached_hash_follows_a_change() {
        let mut f = FileData::from_content(&random(10, 1));
        let before = f.sha256().to_owned();
        f.punch(0, 1);
        assert_ne!(f.sha256(), before);
        assert_eq!(f.sha256(), hex::encode(Sha256::digest(f.bytes())));
    }
}
