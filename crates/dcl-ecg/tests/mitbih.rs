//! The bundled database against PhysioNet's published counts, and every typed error on
//! small synthetic directories.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use dcl_ecg::{
    AamiClass, BeatConfig, ClassSet, DEFAULT_VALID_RECORDS, EcgError, InterPatientSplit,
    LOCAL_RR_FEATURES, MitBih, RR_FEATURES, Split, extract_beats,
};
use flate2::Compression;
use flate2::write::GzEncoder;

#[test]
fn bundled_counts_match_physionet() {
    let db = MitBih::bundled().unwrap();
    assert_eq!(db.records().len(), 48);
    let mut totals = [0usize; 5];
    for r in db.records() {
        for a in db.annotations(&r.name).unwrap() {
            if let Some(c) = a.class {
                totals[c.index()] += 1;
            }
        }
    }
    // The standard AAMI totals over the 48 records.
    assert_eq!(totals, [90_631, 2_781, 7_236, 803, 8_043]);
    assert_eq!(db.records_in(Split::Ds1).len(), 22);
    assert_eq!(db.records_in(Split::Ds2).len(), 22);
    assert_eq!(
        db.records_in(Split::Paced),
        vec!["102", "104", "107", "217"]
    );
    let signal = db.signal("100").unwrap();
    assert_eq!(signal.len(), 650_000);
    // First sample of record 100's MLII lead, from its header.
    assert_eq!(signal[0], 995);
}

#[test]
fn beat_windows_are_normalised_and_labelled() {
    let db = MitBih::bundled().unwrap();
    let config = BeatConfig::default();
    let beats = extract_beats(&db, &["119"], &config).unwrap();
    // Record 119: 1,543 N and 444 V beats; the first and last beats have no RR interval.
    let counts = beats.class_counts();
    assert_eq!(counts.iter().sum::<usize>(), 1_987 - 2);
    assert!(counts[AamiClass::V.index()] >= 443);
    assert_eq!(beats.signals.len(), beats.len() * 128);
    assert_eq!(beats.features.len(), beats.len() * 4);
    for w in beats.signals.chunks(128).take(50) {
        let mean: f32 = w.iter().sum::<f32>() / 128.0;
        assert!(mean.abs() < 1e-4, "window mean {mean}");
    }
    assert!(beats.signals.iter().all(|v| v.is_finite()));
    // Patient-normalised RR: the mean of the previous-RR feature is close to 1.
    let pre_mean: f32 = beats.features.chunks(4).map(|f| f[0]).sum::<f32>() / beats.len() as f32;
    assert!((pre_mean - 1.0).abs() < 0.05, "{pre_mean}");
    // Without RR features and with Q kept.
    let plain = BeatConfig {
        rr_features: false,
        classes: ClassSet::Aami5,
        ..config
    };
    let paced = extract_beats(&db, &["107"], &plain).unwrap();
    assert_eq!(paced.n_features, 0);
    assert!(paced.class_counts()[AamiClass::Q.index()] > 2_000);
}

#[test]
fn local_rhythm_features_follow_the_record_features() {
    let db = MitBih::bundled().unwrap();
    let base = extract_beats(&db, &["119"], &BeatConfig::default()).unwrap();
    let config = BeatConfig {
        local_rr: true,
        ..BeatConfig::default()
    };
    let beats = extract_beats(&db, &["119"], &config).unwrap();
    assert_eq!(beats.n_features, RR_FEATURES + LOCAL_RR_FEATURES);
    assert_eq!(beats.features.len(), beats.len() * 6);
    assert_eq!(beats.labels, base.labels);
    let v = AamiClass::V.index() as u8;
    let (mut premature, mut other) = ((0.0f32, 0usize), (0.0f32, 0usize));
    for ((f, b), &label) in beats
        .features
        .chunks(6)
        .zip(base.features.chunks(4))
        .zip(&beats.labels)
    {
        // The first four are the record-relative features, unchanged.
        assert_eq!(&f[..4], b);
        // pre / local == (pre / mean) / (local / mean), up to rounding.
        assert!((f[4] - b[0] / b[2]).abs() < 1e-4 * f[4].abs().max(1.0));
        assert!((f[5] - b[1] / b[2]).abs() < 1e-4 * f[5].abs().max(1.0));
        let acc = if label == v {
            &mut premature
        } else {
            &mut other
        };
        acc.0 += f[4];
        acc.1 += 1;
    }
    // Record 119's ventricular beats (bigeminy) come early against the local rhythm.
    let (pv, po) = (premature.0 / premature.1 as f32, other.0 / other.1 as f32);
    assert!(pv < 0.9 && pv < po, "V {pv}, other {po}");
}

#[test]
fn median_beat_subtraction_is_per_record_and_keeps_labels_and_features() {
    let db = MitBih::bundled().unwrap();
    let records = ["119", "100"];
    let base = extract_beats(&db, &records, &BeatConfig::default()).unwrap();
    let config = BeatConfig {
        subtract_median_beat: true,
        ..BeatConfig::default()
    };
    let beats = extract_beats(&db, &records, &config).unwrap();
    assert_eq!(beats.labels, base.labels);
    assert_eq!(beats.features, base.features);
    assert_eq!(beats.records, base.records);
    let w = beats.window;
    for record in records {
        let idx: Vec<usize> = (0..beats.len())
            .filter(|&i| beats.records[i] == record)
            .collect();
        // One vector, the record's median beat, is taken off every window of the record.
        let offset = |i: usize| -> Vec<f32> {
            (0..w)
                .map(|t| base.signals[i * w + t] - beats.signals[i * w + t])
                .collect()
        };
        let median = offset(idx[0]);
        for &i in &idx {
            for (a, b) in offset(i).iter().zip(&median) {
                assert!((a - b).abs() < 1e-4, "record {record} beat {i}");
            }
        }
        // After it, the median of each sample over the record is zero.
        for t in 0..w {
            let mut column: Vec<f32> = idx.iter().map(|&i| beats.signals[i * w + t]).collect();
            column.sort_by(f32::total_cmp);
            let m = column[column.len() / 2];
            assert!(m.abs() < 1e-4, "record {record} sample {t}: {m}");
        }
        assert!(median.iter().any(|v| v.abs() > 0.1), "record {record}");
    }
    // Record 119's ventricular beats differ from its usual (normal) beat far more than its
    // normal beats do.
    let energy = |label: u8| -> f32 {
        let idx: Vec<usize> = (0..beats.len())
            .filter(|&i| beats.records[i] == "119" && beats.labels[i] == label)
            .collect();
        idx.iter()
            .map(|&i| {
                beats.signals[i * w..(i + 1) * w]
                    .iter()
                    .map(|v| v * v)
                    .sum::<f32>()
            })
            .sum::<f32>()
            / idx.len() as f32
    };
    let (n, v) = (
        energy(AamiClass::N.index() as u8),
        energy(AamiClass::V.index() as u8),
    );
    assert!(v > 4.0 * n, "N {n}, V {v}");
}

#[test]
fn median_beat_channel_pairs_each_window_with_its_deviation() {
    let db = MitBih::bundled().unwrap();
    let records = ["119", "100"];
    let plain = extract_beats(&db, &records, &BeatConfig::default()).unwrap();
    let subtracted = BeatConfig {
        subtract_median_beat: true,
        ..BeatConfig::default()
    };
    let deviations = extract_beats(&db, &records, &subtracted).unwrap();
    let config = BeatConfig {
        median_beat_channel: true,
        ..BeatConfig::default()
    };
    let beats = extract_beats(&db, &records, &config).unwrap();
    assert_eq!((beats.channels, plain.channels), (2, 1));
    assert_eq!(beats.window, plain.window);
    assert_eq!(beats.labels, plain.labels);
    assert_eq!(beats.features, plain.features);
    assert_eq!(beats.signals.len(), 2 * plain.signals.len());
    let w = beats.window;
    for i in 0..beats.len() {
        let both = &beats.signals[2 * i * w..2 * (i + 1) * w];
        assert_eq!(&both[..w], &plain.signals[i * w..(i + 1) * w], "beat {i}");
        assert_eq!(
            &both[w..],
            &deviations.signals[i * w..(i + 1) * w],
            "beat {i}"
        );
    }
    // A subset keeps whole beats, both channels.
    let sub = beats.subset(&[3, 0]);
    assert_eq!(sub.channels, 2);
    assert_eq!(&sub.signals[..2 * w], &beats.signals[6 * w..8 * w]);
    assert_eq!(&sub.signals[2 * w..], &beats.signals[..2 * w]);
    // Both options at once would subtract the median twice: a typed error.
    let both = BeatConfig {
        subtract_median_beat: true,
        median_beat_channel: true,
        ..BeatConfig::default()
    };
    assert!(matches!(
        extract_beats(&db, &records, &both),
        Err(EcgError::Config(_))
    ));
}

#[test]
fn inter_patient_split_is_by_patient() {
    let db = MitBih::bundled().unwrap();
    let split =
        InterPatientSplit::new(&db, &BeatConfig::default(), &DEFAULT_VALID_RECORDS).unwrap();
    let ds2 = db.records_in(Split::Ds2);
    assert!(split.test.records.iter().all(|r| ds2.contains(&r.as_str())));
    assert!(
        split
            .valid
            .records
            .iter()
            .all(|r| DEFAULT_VALID_RECORDS.contains(&r.as_str()))
    );
    assert!(
        split.train.records.iter().all(|r| {
            !DEFAULT_VALID_RECORDS.contains(&r.as_str()) && !ds2.contains(&r.as_str())
        })
    );
    for set in [&split.train, &split.valid, &split.test] {
        assert!(set.class_counts().iter().all(|&c| c > 0));
    }
    // DS2 has the standard ~49.7k beats of N, S, V, F (Q dropped), less two per record.
    let n_test = split.test.len();
    assert!((49_600..=49_720).contains(&n_test), "{n_test}");
    let balanced = split.train.balanced_subsample(100, 7);
    assert_eq!(balanced.class_counts(), vec![100; 4]);
    assert_eq!(balanced, split.train.balanced_subsample(100, 7));
    // A validation record outside DS1 is refused.
    assert!(matches!(
        InterPatientSplit::new(&db, &BeatConfig::default(), &["100"]),
        Err(EcgError::Config(_))
    ));
}

// ----- synthetic directories for the error paths -----

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn write_gz(path: &PathBuf, bytes: &[u8]) {
    let mut enc = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

/// A one-record database: `n` samples of a sine, the given annotation rows.
fn synthetic(n: usize, signal_len: usize, annotations: &str) -> PathBuf {
    synthetic_record(
        &format!("900,MLII,V1,360,{n},200.0,1024,0,DS1"),
        signal_len,
        annotations,
    )
}

/// A one-record database with the record table row `record` (record 900).
fn synthetic_record(record: &str, signal_len: usize, annotations: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dcl-ecg-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(dir.join("signals")).unwrap();
    std::fs::write(
        dir.join("records.csv"),
        format!(
            "record,stored_lead,other_lead,fs_hz,n_samples,adc_gain_per_mV,adc_zero,header_checksum,split_dechazal\n\
             {record}\n"
        ),
    )
    .unwrap();
    write_gz(
        &dir.join("annotations.csv.gz"),
        format!("record,sample,symbol,aami,aux\n{annotations}").as_bytes(),
    );
    let samples: Vec<u8> = (0..signal_len)
        .flat_map(|i| ((1024.0 + 100.0 * (i as f64 * 0.05).sin()) as i16).to_le_bytes())
        .collect();
    write_gz(&dir.join("signals").join("900.i16le.gz"), &samples);
    dir
}

#[test]
fn good_synthetic_database_reads() {
    let rows = "900,400,N,N,\n900,700,V,V,\n900,1000,+,,(N\n900,1100,N,N,\n900,1500,N,N,\n";
    let db = MitBih::open(synthetic(2000, 2000, rows)).unwrap();
    let beats = extract_beats(&db, &["900"], &BeatConfig::default()).unwrap();
    // Four beats; the first and last are skipped.
    assert_eq!(beats.labels, vec![2, 0]);
    assert!(matches!(db.signal("901"), Err(EcgError::UnknownRecord(_))));
}

#[test]
fn truncated_signal_is_an_error() {
    let db = MitBih::open(synthetic(2000, 1500, "900,400,N,N,\n")).unwrap();
    assert!(matches!(
        db.signal("900"),
        Err(EcgError::SignalLength {
            found: 1500,
            expected: 2000,
            ..
        })
    ));
    assert!(extract_beats(&db, &["900"], &BeatConfig::default()).is_err());
}

#[test]
fn corrupt_gzip_is_an_io_error() {
    let dir = synthetic(2000, 2000, "900,400,N,N,\n");
    let path = dir.join("signals").join("900.i16le.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let db = MitBih::open(&dir).unwrap();
    assert!(matches!(db.signal("900"), Err(EcgError::Io { .. })));
}

#[test]
fn missing_files_are_io_errors() {
    let dir = synthetic(2000, 2000, "900,400,N,N,\n");
    std::fs::remove_file(dir.join("signals").join("900.i16le.gz")).unwrap();
    let db = MitBih::open(&dir).unwrap();
    assert!(matches!(db.signal("900"), Err(EcgError::Io { .. })));
    std::fs::remove_file(dir.join("annotations.csv.gz")).unwrap();
    assert!(matches!(MitBih::open(&dir), Err(EcgError::Io { .. })));
    assert!(matches!(
        MitBih::open("/nonexistent/dcl-ecg"),
        Err(EcgError::Io { .. })
    ));
}

#[test]
fn annotation_past_the_end_is_an_error() {
    let err = MitBih::open(synthetic(2000, 2000, "900,400,N,N,\n900,2000,N,N,\n")).unwrap_err();
    assert!(matches!(
        err,
        EcgError::AnnotationOutOfRange {
            sample: 2000,
            n_samples: 2000,
            ..
        }
    ));
}

#[test]
fn unknown_symbol_is_an_error() {
    let err = MitBih::open(synthetic(2000, 2000, "900,400,Z,,\n")).unwrap_err();
    assert!(matches!(err, EcgError::UnknownSymbol { ref symbol, .. } if symbol == "Z"));
}

#[test]
fn inconsistent_or_malformed_rows_are_errors() {
    // The file says V, the symbol says N.
    assert!(matches!(
        MitBih::open(synthetic(2000, 2000, "900,400,N,V,\n")),
        Err(EcgError::Format { .. })
    ));
    assert!(matches!(
        MitBih::open(synthetic(2000, 2000, "900,abc,N,N,\n")),
        Err(EcgError::Format { .. })
    ));
    assert!(matches!(
        MitBih::open(synthetic(2000, 2000, "901,400,N,N,\n")),
        Err(EcgError::Format { .. })
    ));
}

#[test]
fn empty_class_is_an_error() {
    let rows = "900,400,N,N,\n900,700,N,N,\n900,1000,N,N,\n900,1300,N,N,\n";
    let db = MitBih::open(synthetic(2000, 2000, rows)).unwrap();
    let beats = extract_beats(&db, &["900"], &BeatConfig::default()).unwrap();
    let err = beats
        .require_all_classes("train", ClassSet::Aami4)
        .unwrap_err();
    assert!(matches!(err, EcgError::EmptyClass { ref class, .. } if class == "S"));
}

#[test]
fn zero_window_is_a_config_error() {
    let db = MitBih::open(synthetic(2000, 2000, "900,400,N,N,\n")).unwrap();
    let config = BeatConfig {
        before: 0,
        after: 1,
        downsample: 2,
        ..BeatConfig::default()
    };
    assert!(matches!(
        extract_beats(&db, &["900"], &config),
        Err(EcgError::Config(_))
    ));
}

#[test]
fn record_fields_out_of_range_are_refused_before_any_allocation() {
    for (field, row) in [
        ("n_samples", "900,MLII,V1,360,1e30,200.0,1024,0,DS1"),
        ("n_samples", "900,MLII,V1,360,300000000,200.0,1024,0,DS1"),
        ("adc_zero", "900,MLII,V1,360,2000,200.0,-3e9,0,DS1"),
        ("adc_zero", "900,MLII,V1,360,2000,200.0,1024.5,0,DS1"),
        ("adc_gain_per_mV", "900,MLII,V1,360,2000,1e-300,1024,0,DS1"),
        ("adc_gain_per_mV", "900,MLII,V1,360,2000,1e300,1024,0,DS1"),
        ("sampling rate", "900,MLII,V1,1e12,2000,200.0,1024,0,DS1"),
    ] {
        match MitBih::open(synthetic_record(row, 2000, "900,400,N,N,\n")) {
            Err(EcgError::Format {
                message, line: 2, ..
            }) => {
                assert!(message.contains(field), "{row}: {message}")
            }
            other => panic!("{row}: expected a format error, got {other:?}"),
        }
    }
}

#[test]
fn two_beats_at_one_sample_are_refused_and_features_stay_finite() {
    let rows = "900,400,N,N,\n900,700,N,N,\n900,700,V,V,\n900,1000,N,N,\n";
    match MitBih::open(synthetic(2000, 2000, rows)) {
        Err(EcgError::Format { message, .. }) => {
            assert!(message.contains("sample 700"), "{message}")
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    // A non-beat annotation at a beat's sample is fine, and every feature is finite.
    let rows = "900,400,N,N,\n900,700,N,N,\n900,700,+,,(N\n900,1000,V,V,\n900,1300,N,N,\n";
    let db = MitBih::open(synthetic(2000, 2000, rows)).unwrap();
    let beats = extract_beats(
        &db,
        &["900"],
        &BeatConfig {
            local_rr: true,
            ..BeatConfig::default()
        },
    )
    .unwrap();
    // Four beats, the first and last without an RR interval on one side.
    assert_eq!(beats.labels, vec![0, 2]);
    assert!(beats.features.iter().all(|f| f.is_finite()));
    assert!(beats.signals.iter().all(|v| v.is_finite()));
}

/// `text` mutated: `how` 0 truncates at `at`, 1 flips a bit, 2 swaps two comma fields of a
/// line, 3 overwrites a byte.
fn mutate(text: &str, how: u8, at: usize, bit: u8, byte: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = at % bytes.len().max(1);
    match how % 4 {
        0 => bytes.truncate(i),
        1 if !bytes.is_empty() => bytes[i] ^= 1 << (bit % 8),
        2 => {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            let l = at % lines.len().max(1);
            if let Some(line) = lines.get_mut(l) {
                let mut fields: Vec<&str> = line.split(',').collect();
                let n = fields.len();
                fields.swap(at / 7 % n, (at / 7 + 1 + bit as usize) % n);
                *line = fields.join(",");
            }
            bytes = (lines.join("\n") + "\n").into_bytes();
        }
        _ if !bytes.is_empty() => bytes[i] = byte,
        _ => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Opens a database and extracts its beats: either step may refuse, but what comes out is
/// finite; the directory is removed afterwards.
fn open_and_extract(dir: PathBuf) -> Result<(), proptest::test_runner::TestCaseError> {
    if let Ok(db) = MitBih::open(&dir) {
        let config = BeatConfig {
            local_rr: true,
            ..BeatConfig::default()
        };
        if let Ok(beats) = extract_beats(&db, &["900"], &config) {
            proptest::prop_assert!(beats.signals.iter().all(|v| v.is_finite()));
            proptest::prop_assert!(beats.features.iter().all(|v| v.is_finite()));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    Ok(())
}

const GOOD_ROWS: &str =
    "900,400,N,N,\n900,700,V,V,\n900,1000,+,,(N\n900,1100,N,N,\n900,1500,N,N,\n";

proptest::proptest! {
    // 256 cases each (each writes and reads a one-record database): the record table's row
    // and the annotation rows as arbitrary text and as mutations of valid ones, each file as
    // arbitrary bytes, and signals of every length.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn record_table_rows_of_arbitrary_text(row in "[0-9A-Za-z,.+eE-]{0,60}") {
        open_and_extract(synthetic_record(&row, 2000, GOOD_ROWS))?;
    }

    #[test]
    fn record_table_rows_mutated(how: u8, at: usize, bit: u8, byte: u8) {
        let row = mutate("900,MLII,V1,360,2000,200.0,1024,0,DS1", how, at, bit, byte);
        open_and_extract(synthetic_record(row.trim_end(), 2000, GOOD_ROWS))?;
    }

    #[test]
    fn annotation_rows_of_arbitrary_text(rows in "(900,[0-9]{0,6},[NVSFQ+~|AaJ]{0,2},[NVSFQ]?,[(A-Z]{0,3}\n){0,8}") {
        open_and_extract(synthetic(2000, 2000, &rows))?;
    }

    #[test]
    fn annotation_rows_mutated(how: u8, at: usize, bit: u8, byte: u8) {
        let rows = mutate(GOOD_ROWS, how, at, bit, byte);
        open_and_extract(synthetic(2000, 2000, &rows))?;
    }

    #[test]
    fn whole_files_of_arbitrary_bytes(
        records in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        annotations in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        which in 0u8..3,
    ) {
        // One of the three files replaced by arbitrary bytes (the annotations gzipped, so the
        // CSV reader sees them), the other two valid.
        let dir = synthetic(2000, 2000, GOOD_ROWS);
        match which {
            0 => std::fs::write(dir.join("records.csv"), &records).unwrap(),
            1 => write_gz(&dir.join("annotations.csv.gz"), &annotations),
            _ => std::fs::write(dir.join("signals").join("900.i16le.gz"), &records).unwrap(),
        }
        open_and_extract(dir)?;
    }

    #[test]
    fn signal_files_of_arbitrary_length(len in 0usize..4000) {
        open_and_extract(synthetic(2000, len, GOOD_ROWS))?;
    }
}

#[test]
fn the_mutations_reach_both_outcomes() {
    // The mutated-input property tests are only useful if some mutants still read and some
    // are refused.
    let (mut ok, mut refused) = (0, 0);
    for k in 0..60usize {
        let how = (k % 4) as u8;
        let row = mutate(
            "900,MLII,V1,360,2000,200.0,1024,0,DS1",
            how,
            k * 7,
            k as u8,
            b'0' + k as u8 % 10,
        );
        let rows = mutate(GOOD_ROWS, how, k * 5, k as u8, b'0' + k as u8 % 10);
        for dir in [
            synthetic_record(row.trim_end(), 2000, GOOD_ROWS),
            synthetic(2000, 2000, &rows),
        ] {
            match MitBih::open(&dir) {
                Ok(_) => ok += 1,
                Err(_) => refused += 1,
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
    assert!(ok > 10 && refused > 10, "{ok} read, {refused} refused");
}
