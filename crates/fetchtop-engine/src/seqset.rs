//! A set of item seqs in memory proportional to the span of seqs it holds:
//! what a resumed run skips.
//!
//! Seqs are stored as bits in blocks of 4,096, created on first use, so a
//! dense set of 1,000,000 seqs takes about 125 KB, and a stray huge seq (a
//! hand-edited file) costs one block rather than a gigantic bitmap.

use std::collections::BTreeMap;
use std::fmt;

/// Bits per block.
const BLOCK_BITS: u64 = 4096;
/// 64-bit words per block.
const WORDS: usize = (BLOCK_BITS / 64) as usize;

/// A set of seqs (any `u64`).
#[derive(Clone, Default)]
pub struct SeqSet {
    blocks: BTreeMap<u64, Box<[u64; WORDS]>>,
    len: u64,
}

impl SeqSet {
    /// An empty set.
    pub fn new() -> SeqSet {
        SeqSet::default()
    }

    /// Adds `seq`; returns whether it was new.
    pub fn insert(&mut self, seq: u64) -> bool {
        let (block, word, bit) = split(seq);
        let words = self
            .blocks
            .entry(block)
            .or_insert_with(|| Box::new([0; WORDS]));
        let fresh = words[word] & bit == 0;
        words[word] |= bit;
        self.len += u64::from(fresh);
        fresh
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        let (block, word, bit) = split(seq);
        self.blocks.get(&block).is_some_and(|w| w[word] & bit != 0)
    }

    /// How many seqs the set holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The seqs held, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks.iter().flat_map(|(&block, words)| {
            words.iter().enumerate().flat_map(move |(w, &bits)| {
                (0..64u64)
                    .filter(move |b| bits & (1 << b) != 0)
                    .map(move |b| block * BLOCK_BITS + w as u64 * 64 + b)
            })
        })
    }

    /// Bytes of bitmap held (for tests of the memory bound).
    pub fn bitmap_bytes(&self) -> usize {
        self.blocks.len() * WORDS * 8
    }
}

fn split(seq: u64) -> (u64, usize, u64) {
    let block = seq / BLOCK_BITS;
    let offset = seq % BLOCK_BITS;
    (block, (offset / 64) as usize, 1u64 << (offset % 64))
}

impl fmt::Debug for SeqSet {
    // The bits themselves would drown any log or test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeqSet")
            .field("len", &self.len)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_was_inserted_and_nothing_else() {
        let mut s = SeqSet::new();
        for seq in [0, 1, 63, 64, 4095, 4096, 1_000_000, u64::MAX] {
            assert!(s.insert(seq), "{seq}");
        }
        assert!(!s.insert(64), "a second insert is not new");
        assert_eq!(s.len(), 8);
        for seq in [0, 1, 63, 64, 4095, 4096, 1_000_000, u64::MAX] {
            assert!(s.contains(seq), "{seq}");
        }
        for seq in [2, 62, 65, 4097, 999_999, u64::MAX - 1] {
            assert!(!s.contains(seq), "{seq}");
        }
        let held: Vec<u64> = s.iter().collect();
        assert_eq!(held, [0, 1, 63, 64, 4095, 4096, 1_000_000, u64::MAX]);
    }

    #[test]
    fn a_million_seqs_take_about_125_kb() {
        let mut s = SeqSet::new();
        for seq in 1..=1_000_000 {
            s.insert(seq);
        }
        assert_eq!(s.len(), 1_000_000);
        assert!(s.bitmap_bytes() <= 126 * 1024, "{}", s.bitmap_bytes());
        let mut sparse = SeqSet::new();
        sparse.insert(u64::MAX / 2);
        assert_eq!(sparse.bitmap_bytes(), 512);
    }
}
