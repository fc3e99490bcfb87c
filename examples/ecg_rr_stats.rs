//! How well the RR-interval features alone separate the AAMI classes, per split: for each
//! class, the mean of every RR feature and the share of beats that come early against the
//! local rhythm (previous RR below 0.85 of the mean of the last ten).
//!
//! ```sh
//! cargo run --release --example ecg_rr_stats
//! ```

use dcl_ecg::{AamiClass, BeatConfig, MitBih, Split, extract_beats};

fn main() -> Result<(), dcl_ecg::EcgError> {
    let db = MitBih::bundled()?;
    let config = BeatConfig {
        local_rr: true,
        ..BeatConfig::default()
    };
    let ds1 = db.records_in(Split::Ds1);
    let ds2 = db.records_in(Split::Ds2);
    let ds2_but_232: Vec<&str> = ds2.iter().copied().filter(|r| *r != "232").collect();
    println!(
        "features: pre/mean, post/mean, local10/mean, pre/post, pre/local10, post/local10 (mean RR of the record)"
    );
    for (name, records) in [
        ("DS1", ds1),
        ("DS2", ds2),
        ("record 232", vec!["232"]),
        ("DS2 without 232", ds2_but_232),
    ] {
        let beats = extract_beats(&db, &records, &config)?;
        let nf = beats.n_features;
        for class in [AamiClass::N, AamiClass::S, AamiClass::V, AamiClass::F] {
            let label = class.index() as u8;
            let rows: Vec<&[f32]> = beats
                .features
                .chunks(nf)
                .zip(&beats.labels)
                .filter(|(_, l)| **l == label)
                .map(|(f, _)| f)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let n = rows.len() as f32;
            let means: Vec<String> = (0..nf)
                .map(|j| format!("{:.3}", rows.iter().map(|f| f[j]).sum::<f32>() / n))
                .collect();
            let early = rows.iter().filter(|f| f[4] < 0.85).count() as f32 / n;
            println!(
                "rr split={name:?} class={class:?} beats={} means=[{}] early_share={early:.3}",
                rows.len(),
                means.join(", ")
            );
        }
    }
    Ok(())
}
