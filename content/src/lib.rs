//! The `Random { seed }` byte stream of the harness's generated file contents: byte `p`
//! is byte `p % 8` of `mix(seed + (p / 8 + 1) * GOLDEN)` (little endian), where `mix` is
//! the SplitMix64 finaliser. The harness's `gen::content` defines the patterns on top
//! of it; this crate exists only so that dev builds can compile this hot loop with
//! optimisation (see `[profile.dev.package.b2s3-content]` in the workspace manifest):
//! the test suite generates and hashes every byte of every generated file.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn word(seed: u64, index: u64) -> [u8; 8] {
    mix(seed.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN))).to_le_bytes()
}

/// Fills `buf` with bytes `pos..pos + buf.len()` of the stream of `seed`: a partial
/// word at each end and whole words in between.
pub fn fill_random(seed: u64, pos: u64, buf: &mut [u8]) {
    let total = buf.len();
    let skip = (pos % 8) as usize;
    let head = ((8 - skip) % 8).min(total);
    if head > 0 {
        buf[..head].copy_from_slice(&word(seed, pos / 8)[skip..skip + head]);
    }
    let mut z = seed.wrapping_add(((pos + head as u64) / 8 + 1).wrapping_mul(GOLDEN));
    let mut blocks = buf[head..].chunks_exact_mut(8);
    for block in &mut blocks {
        let mut w = z;
        w = (w ^ (w >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        w = (w ^ (w >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        block.copy_from_slice(&(w ^ (w >> 31)).to_le_bytes());
        z = z.wrapping_add(GOLDEN);
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        let n = rest.len();
        let index = (pos + (total - n) as u64) / 8;
        rest.copy_from_slice(&word(seed, index)[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_follow_the_definition_at_every_offset_and_length() {
        let seed = 0xDEAD_BEEF;
        let defined = |p: u64| word(seed, p / 8)[(p % 8) as usize];
        for start in 0..20u64 {
            for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 64, 67] {
                let mut got = vec![0u8; len];
                fill_random(seed, start, &mut got);
                let want: Vec<u8> = (start..start + len as u64).map(defined).collect();
                assert_eq!(got, want, "start {start} len {len}");
            }
        }
    }

    #[test]
    fn the_first_word_is_splitmix64_of_seed_plus_golden() {
        assert_eq!(word(0, 0), mix(GOLDEN).to_le_bytes());
        assert_ne!(word(1, 0), word(2, 0));
    }
}
