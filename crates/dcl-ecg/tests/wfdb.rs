//! The WFDB reader against an independent writer: `tests/data/wfdb` holds records of the bundled
//! copy written as WFDB files by PhysioNet's `wfdb` Python package (`make_fixtures.py`, run
//! once, the files committed); the reader must return the bundled samples and annotations
//! exactly. And arbitrary bytes as headers, signals and annotation files: typed errors or
//! values, never a panic.

use std::path::PathBuf;

use dcl_ecg::wfdb::{Header, decode, decode_annotations, read_annotations, read_record};
use dcl_ecg::{EcgError, MitBih, Split};
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/wfdb")
}

#[test]
fn records_written_by_the_wfdb_package_read_back_as_the_bundled_copy() {
    let bundled = MitBih::bundled().unwrap();
    let db = MitBih::open_wfdb(fixtures()).unwrap();
    let names: Vec<&str> = db.records().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["100", "208", "I01"]);
    for (name, n) in [("100", 7200), ("208", 7200)] {
        let info = db.record(name).unwrap();
        let original = bundled.record(name).unwrap();
        assert_eq!(info.n_samples, n);
        assert_eq!((info.fs_hz, info.gain, info.zero), (360, 200.0, 1024));
        assert_eq!(info.lead, original.lead);
        assert_eq!(info.split, original.split);
        let signal = db.signal(name).unwrap();
        assert_eq!(
            signal[..],
            bundled.signal(name).unwrap()[..n],
            "record {name}"
        );
        let expected: Vec<(usize, &str)> = bundled
            .annotations(name)
            .unwrap()
            .iter()
            .filter(|a| a.sample < n)
            .map(|a| (a.sample, a.symbol.as_str()))
            .collect();
        let found: Vec<(usize, &str)> = db
            .annotations(name)
            .unwrap()
            .iter()
            .map(|a| (a.sample, a.symbol.as_str()))
            .collect();
        assert!(
            expected.len() > 20,
            "record {name}: too few annotations to compare"
        );
        assert_eq!(found, expected, "record {name}");
        let classes: Vec<_> = db
            .annotations(name)
            .unwrap()
            .iter()
            .map(|a| a.class)
            .collect();
        let original: Vec<_> = bundled.annotations(name).unwrap()[..classes.len()]
            .iter()
            .map(|a| a.class)
            .collect();
        assert_eq!(classes, original);
    }
    // Record 208 holds F beats, record 100's first seconds a rhythm annotation with its aux.
    assert!(
        db.annotations("208")
            .unwrap()
            .iter()
            .any(|a| a.symbol == "F")
    );
    let raw = read_annotations(fixtures(), "100", "atr").unwrap();
    assert_eq!((raw[0].symbol.as_str(), raw[0].aux.as_str()), ("+", "(N"));

    // Both of record 100's signals, interleaved in format 212; the second is 2047 minus the first.
    let (header, signals) = read_record(fixtures(), "100").unwrap();
    assert_eq!(header.signals.len(), 2);
    assert_eq!(
        (
            header.signals[0].format,
            header.signals[1].description.as_str()
        ),
        (212, "V5")
    );
    assert!(
        signals[0]
            .iter()
            .zip(&signals[1])
            .all(|(a, b)| a + b == 2047)
    );

    // Twelve signals in format 16, a record MIT-BIH does not have.
    assert_eq!(db.record("I01").unwrap().split, Split::Unlisted);
    let (header, signals) = read_record(fixtures(), "I01").unwrap();
    assert_eq!((header.signals.len(), header.n_samples), (12, 1800));
    let lead = &bundled.signal("100").unwrap()[..1800];
    for (k, s) in signals.iter().enumerate() {
        assert!(
            s.iter().zip(lead).all(|(x, y)| *x == y + 10 * k as i16),
            "signal {k}"
        );
    }
}

#[test]
fn damaged_files_are_typed_errors() {
    let dir = std::env::temp_dir().join(format!("dcl-ecg-wfdb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let copy = |f: &str| std::fs::copy(fixtures().join(f), dir.join(f)).unwrap();
    for f in ["100.hea", "100.dat", "100.atr"] {
        copy(f);
    }
    assert!(MitBih::open_wfdb(&dir).is_ok());
    // A signal file cut short.
    let dat = std::fs::read(fixtures().join("100.dat")).unwrap();
    std::fs::write(dir.join("100.dat"), &dat[..dat.len() - 30]).unwrap();
    let db = MitBih::open_wfdb(&dir).unwrap();
    assert!(matches!(
        db.signal("100"),
        Err(EcgError::SignalLength { .. })
    ));
    // One sample changed: the header's checksum catches it.
    let mut bad = dat.clone();
    bad[3000] ^= 0x01;
    std::fs::write(dir.join("100.dat"), &bad).unwrap();
    assert!(matches!(db.signal("100"), Err(EcgError::Format { .. })));
    std::fs::write(dir.join("100.dat"), &dat).unwrap();
    // An annotation past the end of the record.
    let hea = std::fs::read_to_string(fixtures().join("100.hea")).unwrap();
    std::fs::write(dir.join("100.hea"), hea.replace("7200", "100")).unwrap();
    assert!(matches!(
        MitBih::open_wfdb(&dir),
        Err(EcgError::AnnotationOutOfRange { .. })
    ));
    // A format we do not read.
    std::fs::write(dir.join("100.hea"), hea.replace(" 212 ", " 80 ")).unwrap();
    assert!(matches!(
        MitBih::open_wfdb(&dir),
        Err(EcgError::Format { .. })
    ));
    // No annotation file.
    std::fs::write(dir.join("100.hea"), &hea).unwrap();
    std::fs::remove_file(dir.join("100.atr")).unwrap();
    assert!(matches!(MitBih::open_wfdb(&dir), Err(EcgError::Io { .. })));
    // An empty directory.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        MitBih::open_wfdb(&empty),
        Err(EcgError::Config(_))
    ));
    // open_dir tells the layouts apart.
    assert_eq!(
        MitBih::open_dir(MitBih::bundled_dir())
            .unwrap()
            .records()
            .len(),
        48
    );
    assert_eq!(MitBih::open_dir(fixtures()).unwrap().records().len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What any header the parser accepts must hold.
fn check_header(h: &Header) -> Result<(), TestCaseError> {
    prop_assert!((1..=dcl_ecg::wfdb::MAX_SIGNALS).contains(&h.signals.len()));
    prop_assert!((1..=dcl_ecg::wfdb::MAX_SAMPLE).contains(&h.n_samples));
    prop_assert!(h.fs_hz.is_finite() && h.fs_hz > 0.0);
    for s in &h.signals {
        prop_assert!(s.format == 212 || s.format == 16);
        prop_assert!(s.gain.is_finite() && s.gain > 0.0);
        prop_assert!(!s.file.contains('/') && s.file != "..");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_header_text_is_parsed_or_refused(text in "[ -~\n]{0,200}") {
        if let Ok(h) = Header::parse(&text, "fuzz.hea") {
            check_header(&h)?;
        }
    }

    #[test]
    fn mutated_headers_are_parsed_or_refused(at: prop::sample::Index, byte: u8, cut: prop::sample::Index) {
        let text = std::fs::read(fixtures().join("I01.hea")).unwrap();
        let mut t = text.clone();
        let i = at.index(t.len());
        t[i] = byte;
        t.truncate(cut.index(t.len() + 1).max(i + 1));
        if let Ok(h) = Header::parse(&String::from_utf8_lossy(&t), "fuzz.hea") {
            check_header(&h)?;
        }
    }

    #[test]
    fn arbitrary_signal_bytes_decode_or_are_refused(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        sixteen: bool,
        n_signals in 1usize..13,
        n_frames in 0usize..200,
    ) {
        let format = if sixteen { 16 } else { 212 };
        if let Ok(signals) = decode(format, n_signals, n_frames, &bytes, "fuzz") {
            prop_assert_eq!(signals.len(), n_signals);
            prop_assert!(signals.iter().all(|s| s.len() == n_frames));
            if !sixteen {
                prop_assert!(signals.iter().flatten().all(|v| (-2048..2048).contains(v)));
            }
        }
    }

    #[test]
    fn arbitrary_annotation_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(a) = decode_annotations(&bytes, "fuzz.atr") {
            prop_assert!(a.iter().all(|x| x.sample <= dcl_ecg::wfdb::MAX_SAMPLE));
            prop_assert!(a.iter().all(|x| !x.symbol.is_empty()));
        }
    }

    #[test]
    fn mutated_annotation_files_decode_or_are_refused(at: prop::sample::Index, byte: u8, cut: prop::sample::Index) {
        let mut b = std::fs::read(fixtures().join("208.atr")).unwrap();
        let i = at.index(b.len());
        b[i] = byte;
        b.truncate(cut.index(b.len() + 1));
        if let Ok(a) = decode_annotations(&b, "fuzz.atr") {
            prop_assert!(a.iter().all(|x| x.sample <= dcl_ecg::wfdb::MAX_SAMPLE));
            prop_assert!(a.iter().all(|x| !x.symbol.is_empty()));
        }
    }
}
