//! The pseudo-test: DS1 patients held out from every training and every choice, on which
//! designs (selection signals, spaces, settings) are judged so that DS2 stays a final test
//! seen once per network.
//!
//! The group is chosen by a rule stated before any run ([`pseudo_test_group`]) and committed
//! as [`PSEUDO_TEST_RECORDS`]; a test checks that the rule still gives it. Its score is the
//! mean sensitivity over the classes it holds enough beats of ([`pseudo_test_score`]).

use crate::{EcgError, MitBih, Result, Split};

/// The pseudo-test patients: what [`pseudo_test_group`] gives on MIT-BIH with
/// [`crate::DEFAULT_VALID_RECORDS`] and a group of 5. Together they hold 10,064 N, 222 S,
/// 756 V and 4 F beats (annotations), 28 %, 35 % and 25 % of the N, S and V beats of DS1's
/// seventeen non-validation patients.
pub const PSEUDO_TEST_RECORDS: [&str; 5] = ["106", "109", "122", "201", "220"];

/// A class enters [`pseudo_test_score`] only with at least this many beats in the group: the
/// group's 4 F beats would move a four-class mean sensitivity by 6.25 points each.
pub const PSEUDO_TEST_MIN_BEATS: usize = 50;

/// Groups of more than this many candidates' combinations are refused (the rule is
/// exhaustive).
const MAX_COMBINATIONS: u128 = 5_000_000;

/// The rule that chose [`PSEUDO_TEST_RECORDS`], stated before any run:
///
/// * the pool is DS1 minus `valid_records` (the patients that train today);
/// * a patient holding at least half of DS1's beats of any class is never held out (record
///   208, 90 % of DS1's F beats: without it training would keep about 40 F beats);
/// * of the other patients, the `size` whose N, S and V beats are each closest to the pool's
///   share `size / pool` (the largest of the three deviations of the group's share of the
///   pool's beats from that, smallest first; then their sum; then the lowest record numbers).
///
/// Beats are counted from the annotations (AAMI classes N, S, V, F; Q ignored). Fails when
/// the pool holds fewer than `size` eligible patients, or on a `size` of 0 or one whose
/// combinations are too many to try.
///
/// ```
/// use dcl_ecg::{DEFAULT_VALID_RECORDS, MitBih, PSEUDO_TEST_RECORDS, pseudo_test_group};
/// let db = MitBih::bundled()?;
/// assert_eq!(pseudo_test_group(&db, &DEFAULT_VALID_RECORDS, 5)?, PSEUDO_TEST_RECORDS);
/// # Ok::<(), dcl_ecg::EcgError>(())
/// ```
pub fn pseudo_test_group(db: &MitBih, valid_records: &[&str], size: usize) -> Result<Vec<String>> {
    let ds1 = db.records_in(Split::Ds1);
    let counts = |name: &str| -> Result<[usize; 4]> {
        let mut c = [0; 4];
        for a in db.annotations(name)? {
            if let Some(class) = a.class
                && class.index() < 4
            {
                c[class.index()] += 1;
            }
        }
        Ok(c)
    };
    let mut all = [0usize; 4];
    let mut pool = Vec::new();
    for name in &ds1 {
        let c = counts(name)?;
        (0..4).for_each(|k| all[k] += c[k]);
        if !valid_records.contains(name) {
            pool.push((*name, c));
        }
    }
    let mut pooled = [0usize; 4];
    for (_, c) in &pool {
        (0..4).for_each(|k| pooled[k] += c[k]);
    }
    let mut eligible: Vec<(&str, [usize; 4])> = pool
        .iter()
        .copied()
        .filter(|(_, c)| (0..4).all(|k| 2 * c[k] < all[k].max(1)))
        .collect();
    eligible.sort_by_key(|(name, _)| (name.parse::<u32>().unwrap_or(u32::MAX), name.to_string()));
    if size == 0 || eligible.len() < size {
        return Err(EcgError::Config(format!(
            "a pseudo-test group of {size} patients from {} eligible DS1 patients",
            eligible.len()
        )));
    }
    if binomial(eligible.len(), size) > MAX_COMBINATIONS {
        return Err(EcgError::Config(format!(
            "a pseudo-test group of {size} from {} patients: too many groups to try",
            eligible.len()
        )));
    }
    let target = size as f64 / pool.len() as f64;
    // (largest deviation, sum of deviations, positions): positions ascend, so the
    // lexicographic order of equal scores is the lowest record numbers first.
    let mut best: Option<(f64, f64, Vec<usize>)> = None;
    let mut group: Vec<usize> = (0..size).collect();
    loop {
        let mut deviations = [0.0f64; 3];
        for (k, d) in deviations.iter_mut().enumerate() {
            let held: usize = group.iter().map(|&i| eligible[i].1[k]).sum();
            *d = (held as f64 / pooled[k].max(1) as f64 - target).abs();
        }
        let max = deviations.iter().copied().fold(0.0, f64::max);
        let sum: f64 = deviations.iter().sum();
        if best.as_ref().is_none_or(|(m, s, _)| (max, sum) < (*m, *s)) {
            best = Some((max, sum, group.clone()));
        }
        if !next_combination(&mut group, eligible.len()) {
            break;
        }
    }
    let (_, _, positions) = best.expect("at least one group");
    Ok(positions
        .into_iter()
        .map(|i| eligible[i].0.to_string())
        .collect())
}

/// The pseudo-test's score of a confusion matrix `confusion[t][p]`: the mean sensitivity over
/// the classes with at least [`PSEUDO_TEST_MIN_BEATS`] true beats (N, S and V for
/// [`PSEUDO_TEST_RECORDS`]). `None` when no class has that many.
///
/// ```
/// use dcl_ecg::pseudo_test_score;
/// // N 100 beats (90 right), S 60 (30 right), V 50 (45 right), F 4 (all right): F is left out.
/// let c = vec![
///     vec![90, 5, 5, 0],
///     vec![30, 30, 0, 0],
///     vec![5, 0, 45, 0],
///     vec![0, 0, 0, 4],
/// ];
/// assert!((pseudo_test_score(&c).unwrap() - (0.9 + 0.5 + 0.9) / 3.0).abs() < 1e-12);
/// ```
pub fn pseudo_test_score(confusion: &[Vec<usize>]) -> Option<f64> {
    mean_sensitivity_where(confusion, |_, beats| beats >= PSEUDO_TEST_MIN_BEATS)
}

/// The mean sensitivity of `confusion[t][p]` over the true classes `t` with `beats` true
/// beats for which `keep(t, beats)` holds (a class without beats is never kept); `None` when
/// none is.
///
/// ```
/// use dcl_ecg::mean_sensitivity_where;
/// let c = vec![vec![3, 1], vec![1, 1]];
/// assert_eq!(mean_sensitivity_where(&c, |_, _| true), Some((0.75 + 0.5) / 2.0));
/// assert_eq!(mean_sensitivity_where(&c, |t, _| t == 1), Some(0.5));
/// assert_eq!(mean_sensitivity_where(&c, |_, n| n > 4), None);
/// ```
pub fn mean_sensitivity_where(
    confusion: &[Vec<usize>],
    keep: impl Fn(usize, usize) -> bool,
) -> Option<f64> {
    let se: Vec<f64> = confusion
        .iter()
        .enumerate()
        .filter_map(|(t, row)| {
            let n: usize = row.iter().sum();
            (n > 0 && keep(t, n)).then(|| *row.get(t).unwrap_or(&0) as f64 / n as f64)
        })
        .collect();
    (!se.is_empty()).then(|| se.iter().sum::<f64>() / se.len() as f64)
}

fn binomial(n: usize, k: usize) -> u128 {
    let k = k.min(n - k.min(n));
    (0..k).fold(1u128, |acc, i| {
        acc.saturating_mul((n - i) as u128) / (i as u128 + 1)
    })
}

/// Steps `c` (ascending positions below `n`) to the next combination in lexicographic order;
/// false after the last.
fn next_combination(c: &mut [usize], n: usize) -> bool {
    let k = c.len();
    for i in (0..k).rev() {
        if c[i] < n - k + i {
            c[i] += 1;
            for j in i + 1..k {
                c[j] = c[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DEFAULT_VALID_RECORDS, DS1_RECORDS};

    #[test]
    fn combinations_are_every_subset_once_in_order() {
        let mut c = vec![0, 1];
        let mut seen = vec![c.clone()];
        while next_combination(&mut c, 4) {
            seen.push(c.clone());
        }
        assert_eq!(
            seen,
            vec![
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 2],
                vec![1, 3],
                vec![2, 3]
            ]
        );
        assert_eq!(binomial(16, 5), 4368);
        assert_eq!(binomial(4, 2), 6);
    }

    /// The committed group is the rule's, holds none of the validation patients nor 208, and
    /// is DS1; other sizes give other groups by the same rule, and impossible sizes fail.
    #[test]
    fn the_committed_group_is_what_the_rule_gives() {
        let db = MitBih::bundled().unwrap();
        let group = pseudo_test_group(&db, &DEFAULT_VALID_RECORDS, 5).unwrap();
        assert_eq!(group, PSEUDO_TEST_RECORDS);
        for r in &group {
            assert!(DS1_RECORDS.contains(&r.as_str()));
            assert!(!DEFAULT_VALID_RECORDS.contains(&r.as_str()));
            assert_ne!(r, "208");
        }
        let four = pseudo_test_group(&db, &DEFAULT_VALID_RECORDS, 4).unwrap();
        assert_eq!(four.len(), 4);
        assert!(pseudo_test_group(&db, &DEFAULT_VALID_RECORDS, 0).is_err());
        assert!(pseudo_test_group(&db, &DEFAULT_VALID_RECORDS, 17).is_err());
    }

    #[test]
    fn the_score_leaves_out_classes_with_few_beats() {
        let c = vec![
            vec![50, 0, 0, 0],
            vec![0, 0, 0, 0],
            vec![25, 0, 25, 0],
            vec![0, 0, 0, 49],
        ];
        assert_eq!(pseudo_test_score(&c), Some(0.75));
        assert_eq!(pseudo_test_score(&[vec![1, 0], vec![0, 1]]), None);
    }
}
