//! The demo API's item catalogue: each item is computed from its id, so the
//! catalogue costs no memory whatever its size and answers are repeatable.

use serde::Serialize;

const CATEGORIES: [&str; 8] = [
    "tools", "garden", "kitchen", "books", "toys", "audio", "office", "sports",
];
const TAGS: [&str; 16] = [
    "new", "sale", "eco", "gift", "bulk", "mini", "pro", "classic", "red", "blue", "green",
    "steel", "wood", "kids", "travel", "home",
];

/// One catalogue item, derived deterministically from its id.
#[derive(Debug, Serialize)]
pub(super) struct Item {
    id: u64,
    name: String,
    sku: String,
    category: &'static str,
    price_cents: u64,
    in_stock: bool,
    rating: f64,
    tags: [&'static str; 2],
    updated: &'static str,
}

impl Item {
    /// The item with this id; the same id always gives the same item.
    pub(super) fn new(id: u64) -> Self {
        let h = mix(id);
        let pick = |shift: u32| TAGS[((h >> shift) % TAGS.len() as u64) as usize];
        Item {
            id,
            name: format!("item-{id}"),
            sku: format!("FT-{:08X}", h as u32),
            category: CATEGORIES[((h >> 8) % CATEGORIES.len() as u64) as usize],
            price_cents: 99 + (h >> 16) % 100_000,
            in_stock: (h >> 40) & 7 != 0,
            // 1.0..=5.0 in steps of 0.1; one division keeps it printing short.
            rating: (10 + (h >> 44) % 41) as f64 / 10.0,
            tags: [pick(50), pick(56)],
            updated: "2026-01-01T00:00:00Z",
        }
    }
}

/// splitmix64: a cheap, well-spread hash of the id.
fn mix(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_json_is_small_and_deterministic() {
        for id in [1u64, 42, 999_999, 1_000_000, u64::MAX] {
            let json = serde_json::to_string(&Item::new(id)).unwrap();
            assert!(
                (150..=250).contains(&json.len()),
                "{} bytes: {json}",
                json.len()
            );
            assert_eq!(json, serde_json::to_string(&Item::new(id)).unwrap());
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["id"], id);
            assert_eq!(v["name"], format!("item-{id}"));
        }
        // Different ids give different items beyond id and name.
        let a = serde_json::to_value(Item::new(1)).unwrap();
        let b = serde_json::to_value(Item::new(2)).unwrap();
        assert_ne!(a["sku"], b["sku"]);
    }
}
