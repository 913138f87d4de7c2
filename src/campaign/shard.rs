//! Sharding: `--shard K/N` gives machine K of N the case numbers `i` of `0..cases` with
//! `i % N == K - 1`, so N machines running the same seed and profile share one nightly
//! run: their slices are disjoint and together cover every case exactly once.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Slice `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole case space.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    pub fn contains(&self, case: u64) -> bool {
        case % self.count == self.index - 1
    }

    /// This shard's case numbers among `0..total`, in order.
    pub fn cases(&self, total: u64) -> impl Iterator<Item = u64> {
        (self.index - 1..total).step_by(self.count as usize)
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with `1 <= K <= N`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_as_k_of_n_and_reject_anything_else() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_slices_of_n_shards_are_disjoint_and_cover_every_case_once() {
        for count in 1..=6u64 {
            for total in [0u64, 1, 5, 17, 40] {
                let mut seen = vec![0u32; total as usize];
                for index in 1..=count {
                    let shard = Shard { index, count };
                    for case in shard.cases(total) {
                        assert!(shard.contains(case));
                        seen[case as usize] += 1;
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "count {count} total {total}: {seen:?}");
            }
        }
    }
}
