//! Parsers of outside input fed arbitrary bytes and mutations of valid inputs: each returns a
//! typed error or a valid value, never panics. Case counts are in each `proptest!` block.

use dcl_graph::{GraphSpace, Nb101Cell, Nb201Cell, Nb201Space, SearchSpace};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A valid NB201 string, then a mutation of it: truncated, a byte flipped, or two `|`-fields
/// swapped.
fn mutated_nb201(seed: u64, how: u8, at: usize, bit: u8) -> Vec<u8> {
    let space = Nb201Space::new();
    let cell = space.sample(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut bytes = cell.to_string().into_bytes();
    let at = at % bytes.len();
    match how % 3 {
        0 => bytes.truncate(at),
        1 => bytes[at] ^= 1 << (bit % 8),
        _ => {
            let text = String::from_utf8(bytes.clone()).unwrap();
            let mut fields: Vec<&str> = text.split('|').collect();
            let n = fields.len();
            fields.swap(at % n, (at / n + 1) % n);
            bytes = fields.join("|").into_bytes();
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// 1,024 cases: arbitrary bytes as an NB201 architecture string.
    #[test]
    fn nb201_strings_of_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(cell) = text.parse::<Nb201Cell>() {
            prop_assert_eq!(cell.to_string().parse::<Nb201Cell>().unwrap(), cell);
        }
    }

    /// 1,024 cases: valid NB201 strings truncated, bit-flipped or with fields swapped; what
    /// still parses prints back as a valid cell string.
    #[test]
    fn nb201_strings_mutated(seed: u64, how: u8, at: usize, bit: u8) {
        let bytes = mutated_nb201(seed, how, at, bit);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(cell) = text.parse::<Nb201Cell>() {
            prop_assert!(Nb201Space::new().to_graph(&cell).is_ok());
            prop_assert_eq!(cell.to_string().parse::<Nb201Cell>().unwrap(), cell);
        }
    }

    /// 1,024 cases: arbitrary NB101 table text (vertex count, adjacency bits, ops); a cell that
    /// loads prints back to text that loads as the same cell, and hashes.
    #[test]
    fn nb101_table_text_of_arbitrary_bytes(
        n in 0usize..10,
        adj in proptest::collection::vec(prop_oneof![Just(b'0'), Just(b'1'), any::<u8>()], 0..30),
        ops in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let adj = String::from_utf8_lossy(&adj);
        let ops = String::from_utf8_lossy(&ops);
        if let Ok(cell) = Nb101Cell::from_table(n, &adj, &ops) {
            let again = Nb101Cell::from_table(cell.num_vertices(), &cell.adj_upper(), &cell.ops_string()).unwrap();
            prop_assert_eq!(again, cell);
            let _ = cell.module_hash();
        }
    }

    /// 512 cases: arbitrary bytes as the JSON form of either cell type.
    #[test]
    fn cell_json_of_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        if let Ok(cell) = serde_json::from_slice::<Nb201Cell>(&bytes) {
            prop_assert!(Nb201Space::new().to_graph(&cell).is_ok());
        }
        if let Ok(cell) = serde_json::from_slice::<Nb101Cell>(&bytes) {
            let _ = format!("{cell:?}");
            let json = serde_json::to_string(&cell).unwrap();
            prop_assert_eq!(serde_json::from_str::<Nb101Cell>(&json).unwrap(), cell);
            let again = Nb101Cell::from_table(cell.num_vertices(), &cell.adj_upper(), &cell.ops_string());
            prop_assert_eq!(again.map(|c| c.module_hash()), Ok(cell.module_hash()));
        }
    }
}

#[test]
fn the_mutations_do_reach_both_outcomes() {
    // The mutation generator is only useful if some mutants parse and some do not.
    let (mut ok, mut bad) = (0, 0);
    for seed in 0..200u64 {
        for how in 0..3u8 {
            let text = String::from_utf8_lossy(&mutated_nb201(seed, how, seed as usize * 7, 3))
                .into_owned();
            match text.parse::<Nb201Cell>() {
                Ok(_) => ok += 1,
                Err(_) => bad += 1,
            }
        }
    }
    assert!(ok > 20 && bad > 20, "{ok} parsed, {bad} refused");
}
