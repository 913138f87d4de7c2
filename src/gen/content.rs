//! The bytes behind a [`Content`]: a pure, position-addressable function of its
//! [`Pattern`], so that plans stay small, the model can hash a file without storing it,
//! and the executor can stream it to disk in bounded memory.
//!
//! Byte `p` of a pattern stream is defined for every `p` (the stream is infinite; a
//! `Content` takes its first `len` bytes):
//! - `Random { seed }`: byte `p % 8` of `mix(seed + (p / 8 + 1) * GOLDEN)` (little endian),
//!   where `mix` is the SplitMix64 finaliser;
//! - `Zeros`: 0;
//! - `Repeat { seed, block }`: byte `p % block` of the `Random { seed }` stream (a
//!   `block` of 0 is invalid; the model rejects it, and this module reads it as zeros).
//!
//! This definition is part of the plan format: changing it changes what every stored
//! plan means, so bump `PLAN_FORMAT` if you ever do. This module does no I/O.

use std::io::{self, Write};

use b2s3_content::fill_random;

use super::plan::{Content, Pattern};

/// Size of the buffers used to stream content.
pub const BUF_LEN: usize = 64 * 1024;

/// Fills `buf` with bytes `pos..pos + buf.len()` of the pattern's stream.
pub fn fill(pattern: &Pattern, pos: u64, buf: &mut [u8]) {
    match *pattern {
        Pattern::Zeros | Pattern::Repeat { block: 0, .. } => buf.fill(0),
        Pattern::Random { seed } => fill_random(seed, pos, buf),
        Pattern::Repeat { seed, block } => {
            let block = u64::from(block);
            let mut done = 0usize;
            let mut p = pos;
            while done < buf.len() {
                let inner = p % block;
                let n = ((block - inner) as usize).min(buf.len() - done);
                fill_random(seed, inner, &mut buf[done..done + n]);
                done += n;
                p += n as u64;
            }
        }
    }
}

/// Streams bytes `pos..pos + len` of the pattern's stream into `sink`, one buffer at a
/// time; `sink` gets slices of at most [`BUF_LEN`] bytes.
pub fn stream(
    pattern: &Pattern,
    pos: u64,
    len: u64,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; BUF_LEN.min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(BUF_LEN as u64) as usize;
        fill(pattern, pos + done, &mut buf[..n]);
        sink(&buf[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// Writes the whole content to `w`.
pub fn write_to(content: &Content, w: &mut impl Write) -> io::Result<()> {
    stream(&content.pattern, 0, content.len, |b| w.write_all(b))
}

/// The whole content in memory; for small contents and tests.
pub fn bytes(content: &Content) -> Vec<u8> {
    let mut v = vec![0u8; content.len as usize];
    fill(&content.pattern, 0, &mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_stream_read_at_any_offset_matches_the_whole_stream() {
        let p = Pattern::Random { seed: 42 };
        let whole = bytes(&Content { len: 100, pattern: p });
        for start in 0..30u64 {
            let mut part = vec![0u8; 37];
            fill(&p, start, &mut part);
            assert_eq!(&whole[start as usize..start as usize + 37], &part[..]);
        }
    }

    #[test]
    fn a_repeat_pattern_repeats_its_first_block() {
        let p = Pattern::Repeat { seed: 7, block: 5 };
        let v = bytes(&Content { len: 23, pattern: p });
        for i in 5..23 {
            assert_eq!(v[i], v[i % 5]);
        }
        assert_ne!(v[0..5], [0u8; 5]);
    }

    #[test]
    fn different_seeds_give_different_bytes() {
        let a = bytes(&Content { len: 64, pattern: Pattern::Random { seed: 1 } });
        let b = bytes(&Content { len: 64, pattern: Pattern::Random { seed: 2 } });
        assert_ne!(a, b);
    }
}
