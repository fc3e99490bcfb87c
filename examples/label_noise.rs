//! How much run-to-run noise in the *test* labels lowers a predictor's measured Kendall τ on
//! the NAS-Bench-101 subset, where our labels are single training runs and the published
//! predictors were tested on 3-run means.
//!
//! A simulation, not a measurement: the 20,001 single-run validation accuracies stand in for
//! the true ones; a predictor is modelled as truth plus Gaussian noise of standard deviation
//! `eta` (accuracy points); test labels are truth plus Gaussian run noise of standard deviation
//! `sigma` (one run) or `sigma / sqrt(3)` (a 3-run mean). The gap between the two τ is what
//! one-run test labels cost a predictor of that quality, for the `sigma` assumed.
//!
//! ```sh
//! cargo run --release --example label_noise
//! ```

use dcl_bench::{Nb101Metric, Nb101Table};
use dcl_predictor::metrics::kendall_tau;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One draw from N(0, 1) (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = Nb101Table::subset20k()?;
    let truth: Vec<f64> = table
        .records()
        .iter()
        .map(|r| r.get(Nb101Metric::VAL_108).ok_or("missing val_acc_108"))
        .collect::<Result<_, _>>()?;
    let seeds = 5u64;
    for sigma in [0.1, 0.2, 0.3, 0.5] {
        for eta in [1.0, 1.2, 1.5] {
            let (mut three, mut one) = (Vec::new(), Vec::new());
            for seed in 0..seeds {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let noisy = |s: f64, rng: &mut ChaCha8Rng| -> Vec<f64> {
                    truth.iter().map(|y| y + s * normal(rng)).collect()
                };
                let pred = noisy(eta, &mut rng);
                let one_run = noisy(sigma, &mut rng);
                let three_run = noisy(sigma / 3f64.sqrt(), &mut rng);
                three.push(kendall_tau(&pred, &three_run)?);
                one.push(kendall_tau(&pred, &one_run)?);
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let (t3, t1) = (mean(&three), mean(&one));
            println!(
                "noise sigma={sigma} eta={eta} tau_three_run={t3:.3} tau_one_run={t1:.3} cost={:.3} seeds={seeds}",
                t3 - t1
            );
        }
    }
    Ok(())
}
