//! Enumerates the whole NAS-Bench-101 space in Rust and recomputes the module hash of every
//! row of the embedded 20,001-cell table from its cell.
//!
//! ```text
//! cargo run --release --example nb101_enumerate
//! ```
//!
//! The last line is the summary, e.g.
//! `cells=423624 subset_hash_match=20001/20001 subset_in_space=20001/20001 same_representative=20001/20001 seconds=6.1`:
//! * `cells`: distinct module hashes found by the enumeration (published: 423,624);
//! * `subset_hash_match`: table rows whose stored hash equals the hash we compute from the row's cell;
//! * `subset_in_space`: table hashes that the enumeration produced;
//! * `same_representative`: rows whose stored cell is exactly the cell our enumeration keeps
//!   for that hash (the official generator keeps the first one it meets, and so do we).

use std::collections::HashMap;
use std::time::Instant;

use dcl_bench::Nb101Table;
use dcl_graph::{NB101_NUM_CELLS, enumerate_nb101};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let cells = enumerate_nb101();
    let enumerated = start.elapsed().as_secs_f64();
    let by_hash: HashMap<_, _> = cells.iter().map(|(h, c)| (*h, *c)).collect();
    println!(
        "enumerated {} cells in {enumerated:.1} s (published count {NB101_NUM_CELLS})",
        cells.len()
    );
    let mut per_size = [0usize; 8];
    for (_, c) in &cells {
        per_size[c.num_vertices()] += 1;
    }
    for (v, n) in per_size.iter().enumerate().skip(2) {
        println!("  {v} vertices: {n} cells");
    }

    let table = Nb101Table::subset20k()?;
    let (mut hash_match, mut in_space, mut same_rep) = (0, 0, 0);
    for r in table.records() {
        if r.cell.module_hash() == r.hash {
            hash_match += 1;
        }
        if let Some(c) = by_hash.get(&r.hash) {
            in_space += 1;
            if *c == r.cell {
                same_rep += 1;
            }
        }
    }
    let n = table.len();
    println!(
        "cells={} subset_hash_match={hash_match}/{n} subset_in_space={in_space}/{n} same_representative={same_rep}/{n} seconds={:.1}",
        by_hash.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
