//! The data of a run: beats as the trainer's input, the inter-patient split, and the proxy
//! folds a search's fitness is measured on (patients dealt into folds, F beats optionally
//! dealt by time within each patient).

use dcl_ecg::{MitBih, PSEUDO_TEST_RECORDS, Split, extract_beats};
use dcl_train::{InputShape, SignalData};

use crate::{EcgSearchConfig, EcgSearchError};

/// The beats as the trainer's input: each beat's window (its channels one after another) as
/// a signal, its RR features as features.
pub fn signal_data(beats: dcl_ecg::BeatSet) -> SignalData {
    SignalData {
        length: beats.window,
        channels: beats.channels,
        n_features: beats.n_features,
        n_classes: beats.n_classes,
        signals: beats.signals,
        features: beats.features,
        labels: beats.labels,
    }
}

/// One proxy fold: training and validation beats, both class-balanced subsamples.
#[derive(Clone)]
pub(crate) struct ProxyFold {
    pub(crate) train: SignalData,
    pub(crate) valid: SignalData,
    /// Beats per class of the population `valid` was drawn from.
    pub(crate) population: Vec<usize>,
}

impl ProxyFold {
    /// A fold whose validation set is `valid` subsampled to `per_class` beats per class.
    fn new(train: SignalData, valid: dcl_ecg::BeatSet, per_class: usize, seed: u64) -> Self {
        let population = valid.class_counts();
        Self {
            train,
            valid: signal_data(valid.balanced_subsample(per_class, seed)),
            population,
        }
    }

    /// Weight of each validation beat by class: population / sample (1 for a class the sample
    /// lacks, whose weight nothing multiplies).
    pub(crate) fn class_mix(&self) -> Vec<f64> {
        let sample = self.valid.class_counts();
        sample
            .iter()
            .zip(&self.population)
            .map(|(&s, &p)| if s == 0 { 1.0 } else { p as f64 / s as f64 })
            .collect()
    }
}

/// The records the search, the rescoring and the choice may read: `db`'s DS1 records, less
/// the pseudo-test patients ([`dcl_ecg::PSEUDO_TEST_RECORDS`]) with
/// [`EcgSearchConfig::pseudo_test`].
pub(crate) fn selection_records<'a>(db: &'a MitBih, config: &EcgSearchConfig) -> Vec<&'a str> {
    db.records_in(Split::Ds1)
        .into_iter()
        .filter(|r| !(config.pseudo_test && PSEUDO_TEST_RECORDS.contains(r)))
        .collect()
}

/// Where the search's data come from: a view of the database holding only
/// [`selection_records`], through which every beat of [`Selection`] is cut, each record
/// checked on the way in (a DS2 or pseudo-test record is an error, not beats).
struct SelectionLoader<'a> {
    view: MitBih,
    allowed: Vec<&'a str>,
    beats: &'a dcl_ecg::BeatConfig,
    read: std::collections::BTreeSet<String>,
}

impl<'a> SelectionLoader<'a> {
    fn new(db: &'a MitBih, config: &'a EcgSearchConfig) -> Result<Self, EcgSearchError> {
        let allowed = selection_records(db, config);
        Ok(Self {
            view: db.restricted(&allowed)?,
            allowed,
            beats: &config.beats,
            read: Default::default(),
        })
    }

    /// The beats of `records`, in order; fails on any record the search may not read.
    fn beats(&mut self, records: &[&str]) -> Result<dcl_ecg::BeatSet, EcgSearchError> {
        for r in records {
            if !self.allowed.contains(r) {
                return Err(EcgSearchError::Config(format!(
                    "record {r} reached the search's data: only DS1 records outside the \
                     pseudo-test may ({})",
                    self.allowed.join(", ")
                )));
            }
        }
        let beats = extract_beats(&self.view, records, self.beats)?;
        self.read.extend(records.iter().map(|r| r.to_string()));
        Ok(beats)
    }
}

/// What the search, the rescoring and the choice see: DS1 beats only (no test beat).
pub(crate) struct Selection {
    /// The final trainings' training beats.
    pub(crate) train: SignalData,
    /// The final trainings' validation beats (early stopping).
    pub(crate) valid: SignalData,
    /// The proxy folds: one unless `proxy_folds >= 2`.
    pub(crate) proxy: Vec<ProxyFold>,
    /// Beats per class: training, validation.
    pub(crate) class_counts: [Vec<usize>; 2],
    pub(crate) shape: InputShape,
    /// Every record whose beats are in this data.
    pub(crate) records: std::collections::BTreeSet<String>,
}

/// The beats the final networks are tested on, once each: DS2, or with
/// [`EcgSearchConfig::pseudo_test`] the pseudo-test patients.
#[derive(Default)]
pub(crate) struct TestSet {
    pub(crate) data: SignalData,
    /// Beats per class (before any [`EcgSearchConfig::eval_per_class`] cap).
    pub(crate) class_counts: Vec<usize>,
    /// The record of each beat of `data`.
    pub(crate) records: Vec<String>,
}

impl TestSet {
    /// The confusion matrix of each record, `predicted` holding a class per beat of `data`.
    pub(crate) fn per_record(
        &self,
        predicted: &[u8],
    ) -> std::collections::BTreeMap<String, Vec<Vec<usize>>> {
        let k = self.data.n_classes;
        let mut out: std::collections::BTreeMap<String, Vec<Vec<usize>>> = Default::default();
        for ((record, &t), &p) in self.records.iter().zip(&self.data.labels).zip(predicted) {
            let c = out
                .entry(record.clone())
                .or_insert_with(|| vec![vec![0; k]; k]);
            if (t as usize) < k && (p as usize) < k {
                c[t as usize][p as usize] += 1;
            }
        }
        out
    }
}

/// The name of the set the final networks are tested on.
pub(crate) fn test_set_name(config: &EcgSearchConfig) -> &'static str {
    if config.pseudo_test {
        "pseudo-test"
    } else {
        "DS2"
    }
}

/// The search's data: the training and validation sets and the proxy folds, as `config`
/// cuts, splits and caps them (checked first), read through a view of `db` that holds only
/// [`selection_records`].
pub(crate) fn prepare_selection(
    db: &MitBih,
    config: &EcgSearchConfig,
) -> Result<Selection, EcgSearchError> {
    config.validate()?;
    let mut loader = SelectionLoader::new(db, config)?;
    let valid_records: Vec<&str> = config.valid_records.iter().map(String::as_str).collect();
    let train_records: Vec<&str> = loader
        .allowed
        .iter()
        .copied()
        .filter(|r| !valid_records.contains(r))
        .collect();
    let split_train = loader.beats(&train_records)?;
    let split_valid = loader.beats(&valid_records)?;
    split_train.require_all_classes("train", config.beats.classes)?;
    split_valid.require_all_classes("valid", config.beats.classes)?;
    let full_train = match config.full_train_per_class {
        Some(k) => split_train.balanced_subsample(k, config.seed),
        None => split_train.clone(),
    };
    if config.f_within_patients && config.proxy_folds < 2 {
        return Err(EcgSearchError::Config(
            "dealing F beats within patients needs at least 2 proxy folds".into(),
        ));
    }
    let mut proxy: Vec<ProxyFold> = if config.proxy_folds >= 2 {
        proxy_folds(&mut loader, config)?
    } else {
        vec![ProxyFold::new(
            signal_data(split_train.balanced_subsample(config.proxy_train_per_class, config.seed)),
            split_valid.clone(),
            config.proxy_valid_per_class,
            config.seed,
        )]
    };
    let class_counts = [full_train.class_counts(), split_valid.class_counts()];
    tracing::info!(
        "data: train {:?} valid {:?} (N, S, V, F); proxy train {:?} valid {:?}",
        class_counts[0],
        class_counts[1],
        proxy[0].train.class_counts(),
        proxy[0].valid.class_counts()
    );
    for (i, fold) in proxy.iter().enumerate() {
        if i > 0 {
            tracing::info!(
                "proxy fold {}: train {:?} valid {:?}",
                i + 1,
                fold.train.class_counts(),
                fold.valid.class_counts()
            );
        }
        if config.proxy_class_mix {
            tracing::info!(
                "proxy fold {}: validation at the class mix {:?}",
                i + 1,
                fold.population
            );
        }
    }
    let mut sets: [SignalData; 2] = [
        signal_data(full_train),
        signal_data(capped(split_valid, config)),
    ];
    if config.rr_only {
        let proxy_sets = proxy.iter_mut().flat_map(|f| [&mut f.train, &mut f.valid]);
        for set in sets.iter_mut().chain(proxy_sets) {
            set.signals.fill(0.0);
        }
    }
    let [train, valid] = sets;
    let shape = InputShape::of(&train);
    Ok(Selection {
        train,
        valid,
        proxy,
        class_counts,
        shape,
        records: loader.read,
    })
}

/// A validation or test set capped at [`EcgSearchConfig::eval_per_class`] beats per class.
fn capped(set: dcl_ecg::BeatSet, config: &EcgSearchConfig) -> dcl_ecg::BeatSet {
    match config.eval_per_class {
        Some(k) => set.balanced_subsample(k, config.seed),
        None => set,
    }
}

/// The final networks' test beats: DS2's records, or with [`EcgSearchConfig::pseudo_test`]
/// the pseudo-test patients'. Only the final trainings call it, after the choice.
pub(crate) fn load_test(db: &MitBih, config: &EcgSearchConfig) -> Result<TestSet, EcgSearchError> {
    let records: Vec<&str> = if config.pseudo_test {
        PSEUDO_TEST_RECORDS.to_vec()
    } else {
        db.records_in(Split::Ds2)
    };
    let beats = extract_beats(db, &records, &config.beats)?;
    if !config.pseudo_test {
        // The pseudo-test's few F beats are left out of its score, not required.
        beats.require_all_classes("test", config.beats.classes)?;
    }
    let class_counts = beats.class_counts();
    tracing::info!("{}: {:?} (N, S, V, F)", test_set_name(config), class_counts);
    let beats = capped(beats, config);
    let records = beats.records.clone();
    let mut data = signal_data(beats);
    if config.rr_only {
        data.signals.fill(0.0);
    }
    Ok(TestSet {
        data,
        class_counts,
        records,
    })
}

/// The proxy folds of [`EcgSearchConfig::proxy_folds`]: the search's patients
/// ([`selection_records`]: DS1, less the pseudo-test patients with
/// [`EcgSearchConfig::pseudo_test`]) dealt round robin in
/// record order into `k` groups; fold `g` trains on the others, validates on group `g`. With
/// [`EcgSearchConfig::f_within_patients`], F beats go by [`f_blocks`] instead.
fn proxy_folds(
    loader: &mut SelectionLoader<'_>,
    config: &EcgSearchConfig,
) -> Result<Vec<ProxyFold>, EcgSearchError> {
    let k = config.proxy_folds;
    let ds1 = loader.allowed.clone();
    if ds1.len() < k {
        return Err(EcgSearchError::Config(format!(
            "{k} proxy folds but only {} DS1 patients to deal (the pseudo-test's held out \
             in design mode)",
            ds1.len()
        )));
    }
    let groups = patient_groups(&ds1, k);
    // One extraction, groups in order: fold g's training beats are the other groups' beats in
    // group order, exactly what extracting those records would give, without re-reading them.
    let all = loader.beats(&groups.concat())?;
    let f = dcl_ecg::AamiClass::F.index();
    let blocks = config.f_within_patients.then(|| f_blocks(&all, f, k));
    Ok(groups
        .iter()
        .enumerate()
        .map(|(g, held)| {
            let (valid, train) = fold_split(&all, held, blocks.as_deref(), f, g);
            let train = all
                .subset(&train)
                .balanced_subsample(config.proxy_train_per_class, config.seed);
            ProxyFold::new(
                signal_data(train),
                all.subset(&valid),
                config.proxy_valid_per_class,
                config.seed,
            )
        })
        .collect())
}

/// Fold `g`'s (validation, training) beat positions in `all`: the beats of the patients `held`
/// validate, the others train; with `blocks` ([`f_blocks`]), beats of class `f` go by their
/// block instead.
fn fold_split(
    all: &dcl_ecg::BeatSet,
    held: &[&str],
    blocks: Option<&[usize]>,
    f: usize,
    g: usize,
) -> (Vec<usize>, Vec<usize>) {
    (0..all.len()).partition(|&i| match blocks {
        Some(b) if all.labels[i] as usize == f => b[i] == g,
        _ => held.contains(&all.records[i].as_str()),
    })
}

/// For each beat of `beats`, its block `0..k` if it is of class `class`: every record's beats
/// of that class, in the order they come (time order within a record), cut into `k`
/// consecutive blocks as equal as can be (`j`-th of `n` goes to block `j * k / n`), so that
/// every block holds a share of every patient's beats and neighbouring beats mostly share a
/// block. Beats of other classes get `usize::MAX`.
fn f_blocks(beats: &dcl_ecg::BeatSet, class: usize, k: usize) -> Vec<usize> {
    let mut per_record: std::collections::HashMap<&str, usize> = Default::default();
    for (label, record) in beats.labels.iter().zip(&beats.records) {
        if *label as usize == class {
            *per_record.entry(record).or_default() += 1;
        }
    }
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    beats
        .labels
        .iter()
        .zip(&beats.records)
        .map(|(label, record)| {
            if *label as usize != class {
                return usize::MAX;
            }
            let j = seen.entry(record).or_default();
            let block = *j * k / per_record[record.as_str()];
            *j += 1;
            block
        })
        .collect()
}

/// Deals `records` (sorted by record number) round robin into `k` groups.
fn patient_groups<'a>(records: &[&'a str], k: usize) -> Vec<Vec<&'a str>> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| (r.parse::<u32>().unwrap_or(u32::MAX), r.to_string()));
    let mut groups = vec![Vec::new(); k];
    for (i, r) in sorted.into_iter().enumerate() {
        groups[i % k].push(r);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::test_config;
    use dcl_ecg::{BeatConfig, DEFAULT_VALID_RECORDS};
    use std::collections::BTreeSet;

    #[test]
    fn rr_only_zeroes_every_window_and_keeps_the_features() {
        let db = MitBih::bundled().unwrap();
        let config = test_config;
        let plain = prepare_selection(&db, &config(false, 0)).unwrap();
        let ablated = prepare_selection(&db, &config(true, 0)).unwrap();
        assert_eq!(plain.proxy.len(), 1);
        let test = |c| load_test(&db, &config(c, 0)).unwrap().data;
        let (plain_test, ablated_test) = (test(false), test(true));
        assert!(plain_test.signals.iter().any(|&v| v != 0.0));
        assert!(ablated_test.signals.iter().all(|&v| v == 0.0));
        assert_eq!(plain_test.features, ablated_test.features);
        let sets = |p: &Selection| {
            let mut v = vec![p.train.clone(), p.valid.clone()];
            v.extend(
                p.proxy
                    .iter()
                    .flat_map(|f| [f.train.clone(), f.valid.clone()]),
            );
            v
        };
        for (a, b) in sets(&plain).iter().zip(&sets(&ablated)) {
            assert!(a.signals.iter().any(|&v| v != 0.0));
            assert!(b.signals.iter().all(|&v| v == 0.0));
            assert_eq!(a.features, b.features);
            assert_eq!(a.labels, b.labels);
        }
        // Three patient folds: three (train, valid) pairs, capped per class, zeroed too.
        let folds = prepare_selection(&db, &config(true, 3)).unwrap();
        assert_eq!(folds.proxy.len(), 3);
        for ProxyFold {
            train: t, valid: v, ..
        } in &folds.proxy
        {
            assert!(!t.is_empty() && !v.is_empty());
            assert!(t.class_counts().iter().all(|&c| c <= 8));
            assert!(t.signals.iter().chain(&v.signals).all(|&x| x == 0.0));
        }
        // The same beats, in the same order, as extracting each fold's records on their own.
        let two = prepare_selection(&db, &config(false, 2)).unwrap();
        let groups = patient_groups(&db.records_in(dcl_ecg::Split::Ds1), 2);
        for (g, fold) in two.proxy.iter().enumerate() {
            let (t, v) = (&fold.train, &fold.valid);
            let beats = BeatConfig::default();
            let direct = |records: &[&str], per_class| -> SignalData {
                signal_data(
                    extract_beats(&db, records, &beats)
                        .unwrap()
                        .balanced_subsample(per_class, 0),
                )
            };
            let (dt, dv) = (direct(&groups[1 - g], 8), direct(&groups[g], 8));
            assert_eq!((&t.signals, &t.labels), (&dt.signals, &dt.labels));
            assert_eq!((&v.signals, &v.labels), (&dv.signals, &dv.labels));
        }
        assert!(matches!(
            prepare_selection(&db, &config(false, 40)),
            Err(EcgSearchError::Config(_))
        ));
    }

    /// The search's data are cut from DS1 records only (less the pseudo-test patients in
    /// design mode), through a view that holds no other record; a DS2 or pseudo-test record
    /// handed to its loader is an error; the test set is DS2's or the pseudo-test's.
    #[test]
    fn the_search_reads_ds1_only_and_the_pseudo_test_stays_out() {
        let db = MitBih::bundled().unwrap();
        let ds1: BTreeSet<String> = dcl_ecg::DS1_RECORDS.map(String::from).into();
        let pseudo: BTreeSet<String> = PSEUDO_TEST_RECORDS.map(String::from).into();
        for folds in [0, 2] {
            for pseudo_test in [false, true] {
                let config = EcgSearchConfig {
                    pseudo_test,
                    ..test_config(false, folds)
                };
                let selection = prepare_selection(&db, &config).unwrap();
                let expected: BTreeSet<String> = if pseudo_test {
                    ds1.difference(&pseudo).cloned().collect()
                } else {
                    ds1.clone()
                };
                assert_eq!(selection.records, expected, "folds {folds} {pseudo_test}");
                assert!(
                    selection
                        .records
                        .iter()
                        .all(|r| Split::of_record(r) == Split::Ds1)
                );
                let test = load_test(&db, &config).unwrap();
                let n = test.data.labels.len();
                let beats = |records: &[&str]| extract_beats(&db, records, &config.beats).unwrap();
                let whole = if pseudo_test {
                    beats(&PSEUDO_TEST_RECORDS)
                } else {
                    beats(&db.records_in(Split::Ds2))
                };
                assert_eq!(test.class_counts, whole.class_counts());
                assert!(n > 0 && n <= 4 * 8);
            }
        }
        let config = EcgSearchConfig {
            pseudo_test: true,
            ..test_config(false, 0)
        };
        let mut loader = SelectionLoader::new(&db, &config).unwrap();
        for record in ["100", "234", "106", "220"] {
            let err = loader.beats(&["101", record]).unwrap_err().to_string();
            assert!(err.contains(&format!("record {record} reached")), "{err}");
        }
        assert!(matches!(
            extract_beats(&loader.view, &["100"], &config.beats),
            Err(dcl_ecg::EcgError::UnknownRecord(_))
        ));
        assert!(loader.read.is_empty());
        assert_eq!(loader.beats(&["101"]).unwrap().records[0], "101");
    }

    /// Without the pseudo-test, the search's sets are the beats the inter-patient split gave
    /// before the test set was read apart: earlier runs' data are unchanged.
    #[test]
    fn the_search_data_are_the_inter_patient_splits() {
        let db = MitBih::bundled().unwrap();
        let config = test_config(false, 0);
        let selection = prepare_selection(&db, &config).unwrap();
        let split =
            dcl_ecg::InterPatientSplit::new(&db, &config.beats, &DEFAULT_VALID_RECORDS).unwrap();
        let train = signal_data(split.train.balanced_subsample(8, 0));
        let valid = signal_data(split.valid.balanced_subsample(8, 0));
        let test = signal_data(split.test.balanced_subsample(8, 0));
        assert_eq!(
            (&selection.train.signals, &selection.train.labels),
            (&train.signals, &train.labels)
        );
        assert_eq!(
            (&selection.valid.signals, &selection.valid.labels),
            (&valid.signals, &valid.labels)
        );
        let loaded = load_test(&db, &config).unwrap().data;
        assert_eq!(
            (&loaded.signals, &loaded.labels),
            (&test.signals, &test.labels)
        );
    }

    #[test]
    fn a_proxy_fold_never_mixes_patients() {
        // All of DS1, dealt into 2 and 3 folds: no patient's beats are on both sides of a
        // fold; each patient validates in exactly one fold. With F dealt within patients, only
        // F beats may share a patient across the sides, and each F beat validates once.
        let db = MitBih::bundled().unwrap();
        let ds1 = db.records_in(dcl_ecg::Split::Ds1);
        let f = dcl_ecg::AamiClass::F.index();
        for k in [2, 3] {
            let groups = patient_groups(&ds1, k);
            let all = extract_beats(&db, &groups.concat(), &BeatConfig::default()).unwrap();
            let blocks = f_blocks(&all, f, k);
            for within in [false, true] {
                let blocks = within.then_some(&blocks[..]);
                let mut validated = vec![0usize; all.len()];
                for (g, held) in groups.iter().enumerate() {
                    let (valid, train) = fold_split(&all, held, blocks, f, g);
                    assert_eq!(valid.len() + train.len(), all.len());
                    let patients = |beats: &[usize], skip_f: bool| {
                        beats
                            .iter()
                            .filter(|&&i| !(skip_f && all.labels[i] as usize == f))
                            .map(|&i| all.records[i].clone())
                            .collect::<std::collections::BTreeSet<_>>()
                    };
                    let (pv, pt) = (patients(&valid, within), patients(&train, within));
                    assert!(
                        pv.is_disjoint(&pt),
                        "k={k} fold {g}: {:?}",
                        pv.intersection(&pt)
                    );
                    for &i in &valid {
                        validated[i] += 1;
                    }
                }
                assert!(validated.iter().all(|&n| n == 1), "k={k} within={within}");
            }
        }
    }

    #[test]
    fn f_blocks_cut_each_records_beats_of_the_class_in_time_order() {
        let beats = dcl_ecg::BeatSet {
            labels: vec![3, 0, 3, 3, 3, 3, 1, 3],
            records: ["a", "a", "b", "a", "a", "b", "b", "a"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        // Record a's four F beats: two blocks of two; record b's two: one each.
        let m = usize::MAX;
        assert_eq!(f_blocks(&beats, 3, 2), vec![0, m, 0, 0, 1, 1, m, 1]);
        assert_eq!(f_blocks(&beats, 3, 4), vec![0, m, 0, 1, 2, 2, m, 3]);
    }

    #[test]
    fn f_within_patients_deals_f_by_time_and_the_rest_by_patient() {
        let db = MitBih::bundled().unwrap();
        // No cap: every beat of DS1 is in the folds.
        let uncapped = |f_within_patients| EcgSearchConfig {
            proxy_train_per_class: usize::MAX,
            proxy_valid_per_class: usize::MAX,
            f_within_patients,
            ..test_config(false, 2)
        };
        let by_patient = prepare_selection(&db, &uncapped(false)).unwrap().proxy;
        let within = prepare_selection(&db, &uncapped(true)).unwrap().proxy;
        let f = dcl_ecg::AamiClass::F.index();
        let ds1_f: usize = by_patient.iter().map(|p| p.valid.class_counts()[f]).sum();
        assert!(ds1_f > 400);
        for g in 0..2 {
            let (a, b) = (&by_patient[g], &within[g]);
            let (va, vb) = (a.valid.class_counts(), b.valid.class_counts());
            let (ta, tb) = (a.train.class_counts(), b.train.class_counts());
            // N, S and V as with patient folds.
            assert_eq!((&va[..f], &ta[..f]), (&vb[..f], &tb[..f]));
            // F: each fold validates on about half of DS1's F beats (record by record, up to
            // one beat each) and trains on the other fold's.
            let other = within[1 - g].valid.class_counts()[f];
            assert_eq!(tb[f], other);
            assert_eq!(vb[f] + other, ds1_f);
            assert!(vb[f].abs_diff(ds1_f / 2) <= 22, "{vb:?}");
            // The population is the held-out beats: no subsampling here, so unit weights.
            assert_eq!(b.population, vb);
            assert_eq!(b.class_mix(), vec![1.0; vb.len()]);
        }
        // With patient folds, F was nearly all in one fold: the problem this fixes.
        assert!(by_patient.iter().any(|p| p.valid.class_counts()[f] < 20));
        // Capped at 8 per class, the mix scales each class back to its population.
        let capped = EcgSearchConfig {
            f_within_patients: true,
            ..test_config(false, 2)
        };
        for fold in prepare_selection(&db, &capped).unwrap().proxy {
            let sample = fold.valid.class_counts();
            for ((w, s), p) in fold.class_mix().iter().zip(&sample).zip(&fold.population) {
                assert_eq!(*s, 8.min(*p));
                assert!((w * *s as f64 - *p as f64).abs() < 1e-9);
            }
        }
        // Without folds there is nothing to deal F beats into.
        let no_folds = EcgSearchConfig {
            f_within_patients: true,
            ..test_config(false, 0)
        };
        assert!(matches!(
            prepare_selection(&db, &no_folds),
            Err(EcgSearchError::Config(_))
        ));
    }

    #[test]
    fn patient_groups_deal_every_record_once_in_number_order() {
        let records = ["205", "101", "1000", "118", "106", "99"];
        let groups = patient_groups(&records, 2);
        assert_eq!(
            groups,
            vec![vec!["99", "106", "205"], vec!["101", "118", "1000"]]
        );
        let db = MitBih::bundled().unwrap();
        let ds1 = db.records_in(dcl_ecg::Split::Ds1);
        let groups = patient_groups(&ds1, 3);
        let mut all: Vec<&str> = groups.concat();
        all.sort();
        let mut expected = ds1.clone();
        expected.sort();
        assert_eq!(all, expected);
        assert!(groups.iter().all(|g| g.len() == 7 || g.len() == 8));
    }
}
