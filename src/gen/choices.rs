//! [`Choices`]: how abstract size, pattern and mode choices become numbers, given the
//! profile and the case's chunk size. Pure functions; no randomness of their own.

use super::content;
use super::plan::{Content, Pattern};
use super::profile::GenProfile;
use super::skeleton::{ModeSel, PatKind, PatSel, SizeClass, SizeSel};

/// The single-PUT threshold of the tool: chunks up to this size go as one PutObject.
pub const PUT_THRESHOLD: u64 = 5 * 1024 * 1024;

const FILE_MODES: &[u32] = &[0o644, 0o600, 0o640, 0o664, 0o444, 0o400, 0o755, 0o700];
const ODD_FILE_MODES: &[u32] =
    &[0o000, 0o777, 0o4755, 0o2755, 0o6755, 0o2644, 0o1755, 0o4644, 0o7777];
const DIR_MODES: &[u32] = &[0o755, 0o700, 0o750, 0o775, 0o555];
const ODD_DIR_MODES: &[u32] = &[0o000, 0o777, 0o1777, 0o2775, 0o2755, 0o3777, 0o111, 0o7777];
const REPEAT_BLOCKS: &[u32] = &[1, 3, 512, 4096, 4097, 65536, 1 << 20];
pub(crate) const NEAR_PUT: &[i64] = &[-4097, -4096, -1, 0, 1, 4096, 4097];

/// Context for turning abstract choices into values.
pub(crate) struct Choices<'a> {
    pub profile: &'a GenProfile,
    pub chunk: u64,
}

impl Choices<'_> {
    /// A file size from its class, clamped to `max_file_size`.
    pub fn size(&self, s: SizeSel) -> u64 {
        let p = self.profile;
        let (a, b) = (u64::from(s.a), u64::from(s.b));
        let size = match s.class {
            SizeClass::Zero => 0,
            SizeClass::One => 1,
            SizeClass::Tiny => 2 + a % 63,
            SizeClass::Small => 65 + a % (p.small_file_max - 64),
            SizeClass::Medium => p.small_file_max + 1 + a % (p.medium_file_max - p.small_file_max),
            SizeClass::NearPut => PUT_THRESHOLD.saturating_add_signed(NEAR_PUT[(a % 7) as usize]),
            SizeClass::ChunkMultiple => ((1 + a % 3) * self.chunk + b % 3).saturating_sub(1),
            SizeClass::SeveralChunks => (2 + a % 3) * self.chunk + b % self.chunk,
        };
        size.min(p.max_file_size)
    }

    /// Content of the chosen size (at most `cap` bytes) and pattern.
    pub fn content(&self, s: SizeSel, pat: PatSel, cap: u64) -> Content {
        Content { len: self.size(s).min(cap), pattern: pattern(pat) }
    }

    /// Content of the `i`-th small file of a builder: below `max` bytes, seeded by `i`.
    pub fn small_content(&self, pat: PatSel, i: u32, max: u64) -> Content {
        let seed = pat.seed.wrapping_add(u64::from(i));
        let len = content::bytes(&Content { len: 8, pattern: Pattern::Random { seed } });
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) % max;
        Content {
            len: len.min(self.profile.max_file_size),
            pattern: pattern(PatSel { seed, ..pat }),
        }
    }

    pub fn file_mode(&self, m: ModeSel) -> u32 {
        mode(m, FILE_MODES, ODD_FILE_MODES)
    }

    pub fn dir_mode(&self, m: ModeSel) -> u32 {
        mode(m, DIR_MODES, ODD_DIR_MODES)
    }

    /// A lowercase hex xattr value of `len` random bytes.
    pub fn xattr_value(&self, seed: u64, len: usize) -> String {
        hex::encode(content::bytes(&Content { len: len as u64, pattern: Pattern::Random { seed } }))
    }
}

fn mode(m: ModeSel, common: &[u32], odd: &[u32]) -> u32 {
    let list = if m.odd { odd } else { common };
    list[m.n as usize % list.len()]
}

fn pattern(p: PatSel) -> Pattern {
    match p.kind {
        PatKind::Zeros => Pattern::Zeros,
        PatKind::Random => Pattern::Random { seed: p.seed },
        PatKind::Repeat => Pattern::Repeat {
            seed: p.seed,
            block: REPEAT_BLOCKS[p.block as usize % REPEAT_BLOCKS.len()],
        },
    }
}
