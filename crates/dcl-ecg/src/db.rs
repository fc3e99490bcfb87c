//! The record table, the annotations and the signals of a MIT-BIH directory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::aami::AamiClass;
use crate::error::{EcgError, Result};

/// The de Chazal et al. (2004) inter-patient split a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training records.
    Ds1,
    /// Test records.
    Ds2,
    /// The four paced records, excluded as AAMI recommends.
    Paced,
    /// A record that is not one of MIT-BIH's 48 (read from another WFDB database): in no split.
    Unlisted,
}

/// De Chazal et al. (2004)'s training records (DS1).
pub const DS1_RECORDS: [&str; 22] = [
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201",
    "203", "205", "207", "208", "209", "215", "220", "223", "230",
];
/// De Chazal et al. (2004)'s test records (DS2).
pub const DS2_RECORDS: [&str; 22] = [
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212", "213",
    "214", "219", "221", "222", "228", "231", "232", "233", "234",
];
/// MIT-BIH's four paced records.
pub const PACED_RECORDS: [&str; 4] = ["102", "104", "107", "217"];

impl Split {
    /// The split of a MIT-BIH record by name ([`Split::Unlisted`] for any other name).
    pub fn of_record(name: &str) -> Self {
        if DS1_RECORDS.contains(&name) {
            Self::Ds1
        } else if DS2_RECORDS.contains(&name) {
            Self::Ds2
        } else if PACED_RECORDS.contains(&name) {
            Self::Paced
        } else {
            Self::Unlisted
        }
    }
}

impl Split {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "DS1" => Some(Self::Ds1),
            "DS2" => Some(Self::Ds2),
            "paced" => Some(Self::Paced),
            _ => None,
        }
    }
}

/// The longest signal a record may have: 2^28 samples (over eight days at 360 Hz).
pub const MAX_SAMPLES: usize = 1 << 28;
/// The highest sampling rate a record may have, in Hz.
pub const MAX_FS_HZ: f64 = 100_000.0;
/// The smallest ADC gain (units per mV) a record may have.
pub const MIN_GAIN: f64 = 1e-3;
/// The largest ADC gain (units per mV) a record may have.
pub const MAX_GAIN: f64 = 1e6;

/// One row of the record table.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInfo {
    /// Record name, e.g. `"100"`.
    pub name: String,
    /// The stored lead (MLII for all but records 102 and 104).
    pub lead: String,
    /// Sampling rate in Hz (360).
    pub fs_hz: u32,
    /// Samples in the signal (650,000).
    pub n_samples: usize,
    /// ADC units per millivolt (200).
    pub gain: f32,
    /// ADC value of 0 mV (1024).
    pub zero: i32,
    /// Inter-patient split.
    pub split: Split,
}

/// One reference annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Sample index (360 Hz) of the annotation: the R peak for beats.
    pub sample: usize,
    /// The MIT-BIH symbol.
    pub symbol: String,
    /// The AAMI class for beat annotations, `None` for non-beat ones.
    pub class: Option<AamiClass>,
}

/// A MIT-BIH Arrhythmia Database directory, in either of two layouts: the copy bundled with
/// this crate (`records.csv`, `annotations.csv.gz`, `signals/<record>.i16le.gz`; [`open`]) or
/// PhysioNet's own WFDB files as downloaded (`<record>.hea`, `.dat`, `.atr`;
/// [`open_wfdb`]). [`open_dir`] tells them apart.
///
/// Opening reads and checks the record table and all annotations; signals are read on demand.
/// The bundled copy lives in the repository (`data/mitdb`), not in the published crate: a user
/// of the crate downloads MIT-BIH from PhysioNet and opens that directory.
///
/// [`open`]: MitBih::open
/// [`open_wfdb`]: MitBih::open_wfdb
/// [`open_dir`]: MitBih::open_dir
///
/// ```
/// use dcl_ecg::{MitBih, Split};
/// let db = MitBih::bundled().unwrap();
/// assert_eq!(db.records().len(), 48);
/// assert_eq!(db.records_in(Split::Ds1).len(), 22);
/// let beats = db.annotations("100").unwrap().iter().filter(|a| a.class.is_some()).count();
/// assert_eq!(beats, 2273);
/// ```
#[derive(Debug, Clone)]
pub struct MitBih {
    dir: PathBuf,
    records: Vec<RecordInfo>,
    annotations: BTreeMap<String, Vec<Annotation>>,
    wfdb: bool,
}

const RECORD_HEADER: [&str; 6] = [
    "record",
    "stored_lead",
    "other_lead",
    "fs_hz",
    "n_samples",
    "adc_gain_per_mV",
];
const ANNOTATION_HEADER: [&str; 5] = ["record", "sample", "symbol", "aami", "aux"];

impl MitBih {
    /// Where the copy bundled with this crate lives (`<crate>/data/mitdb`).
    pub fn bundled_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join("mitdb")
    }

    /// Opens the bundled copy (all 48 records).
    pub fn bundled() -> Result<Self> {
        Self::open(Self::bundled_dir())
    }

    /// Opens a directory laid out like the bundled copy. Fails with a typed error on a missing
    /// file, a malformed table, an unknown annotation symbol, an annotation past the end of its
    /// signal, or an annotation for a record the table does not list.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let records = read_records(&dir.join("records.csv"))?;
        let mut annotations: BTreeMap<String, Vec<Annotation>> = records
            .iter()
            .map(|r| (r.name.clone(), Vec::new()))
            .collect();
        let path = dir.join("annotations.csv.gz");
        let file = open_file(&path)?;
        let mut reader = csv::Reader::from_reader(GzDecoder::new(BufReader::new(file)));
        check_header(&mut reader, "annotations.csv.gz", &ANNOTATION_HEADER, &path)?;
        let mut record = csv::StringRecord::new();
        loop {
            let more = reader
                .read_record(&mut record)
                .map_err(|e| csv_error("annotations.csv.gz", &path, e))?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            let fmt = |message: String| EcgError::Format {
                file: "annotations.csv.gz".into(),
                line,
                message,
            };
            if record.len() != ANNOTATION_HEADER.len() {
                return Err(fmt(format!("{} fields, expected 5", record.len())));
            }
            let name = &record[0];
            let info = records
                .iter()
                .find(|r| r.name == name)
                .ok_or_else(|| fmt(format!("annotation for unknown record {name:?}")))?;
            let sample: usize = record[1]
                .parse()
                .map_err(|_| fmt(format!("bad sample index {:?}", &record[1])))?;
            if sample >= info.n_samples {
                return Err(EcgError::AnnotationOutOfRange {
                    record: name.to_string(),
                    sample,
                    n_samples: info.n_samples,
                });
            }
            let symbol = record[2].to_string();
            let class = AamiClass::from_symbol(&symbol).map_err(|()| EcgError::UnknownSymbol {
                record: name.to_string(),
                sample,
                symbol: symbol.clone(),
            })?;
            // The file carries its own AAMI column: it must agree with our mapping.
            let listed = match &record[3] {
                "" => None,
                s => Some(
                    AamiClass::from_name(s).ok_or_else(|| fmt(format!("bad AAMI class {s:?}")))?,
                ),
            };
            if listed != class {
                return Err(fmt(format!(
                    "symbol {symbol:?} is listed as AAMI {listed:?}, but maps to {class:?}"
                )));
            }
            annotations
                .get_mut(name)
                .expect("every record has an entry")
                .push(Annotation {
                    sample,
                    symbol,
                    class,
                });
        }
        check_beats_apart(&mut annotations, "annotations.csv.gz")?;
        Ok(Self {
            dir,
            records,
            annotations,
            wfdb: false,
        })
    }

    /// Opens a directory of PhysioNet WFDB files (MIT-BIH as downloaded, or another database
    /// with `.hea`, `.dat` in format 212 or 16, and `.atr` files): the records the `RECORDS`
    /// file lists, or every `.hea` file's record when there is none. Each record's first
    /// signal is its signal here (MIT-BIH's MLII, V5 for 102 and 104); its split is de
    /// Chazal's for MIT-BIH's names ([`Split::of_record`]). Annotation symbols must be ones
    /// MIT-BIH uses ([`EcgError::UnknownSymbol`] otherwise; [`crate::wfdb::read_annotations`]
    /// returns any). Malformed headers, signals and annotation files are typed errors.
    pub fn open_wfdb(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut names: Vec<String> = match std::fs::read_to_string(dir.join("RECORDS")) {
            Ok(list) => list
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            Err(_) => {
                let entries = std::fs::read_dir(&dir).map_err(|source| EcgError::Io {
                    path: dir.clone(),
                    source,
                })?;
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".hea"))
                            .map(String::from)
                    })
                    .collect();
                names.sort();
                names
            }
        };
        names.dedup();
        if names.is_empty() {
            return Err(EcgError::Config(format!(
                "{}: no WFDB record (no RECORDS file, no .hea file)",
                dir.display()
            )));
        }
        let mut records = Vec::with_capacity(names.len());
        let mut annotations = BTreeMap::new();
        for name in names {
            let header = crate::wfdb::read_header(&dir, &name)?;
            let first = &header.signals[0];
            if header.fs_hz.fract() != 0.0 {
                return Err(EcgError::Format {
                    file: format!("{name}.hea"),
                    line: 1,
                    message: format!("sampling frequency {} Hz is not whole", header.fs_hz),
                });
            }
            let info = RecordInfo {
                name: name.clone(),
                lead: first.description.clone(),
                fs_hz: header.fs_hz as u32,
                n_samples: header.n_samples,
                gain: first.gain as f32,
                zero: first.baseline,
                split: Split::of_record(&name),
            };
            let mut list = Vec::new();
            for a in crate::wfdb::read_annotations(&dir, &name, "atr")? {
                if a.sample >= info.n_samples {
                    return Err(EcgError::AnnotationOutOfRange {
                        record: name.clone(),
                        sample: a.sample,
                        n_samples: info.n_samples,
                    });
                }
                let class =
                    AamiClass::from_symbol(&a.symbol).map_err(|()| EcgError::UnknownSymbol {
                        record: name.clone(),
                        sample: a.sample,
                        symbol: a.symbol.clone(),
                    })?;
                list.push(Annotation {
                    sample: a.sample,
                    symbol: a.symbol,
                    class,
                });
            }
            annotations.insert(name, list);
            records.push(info);
        }
        check_beats_apart(&mut annotations, "the .atr files")?;
        Ok(Self {
            dir,
            records,
            annotations,
            wfdb: true,
        })
    }

    /// Opens `dir` in whichever layout it has: the bundled one when it holds `records.csv`,
    /// WFDB files otherwise.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if dir.join("records.csv").exists() {
            Self::open(dir)
        } else {
            Self::open_wfdb(dir)
        }
    }

    /// The directory this database was opened from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every record, in table order.
    pub fn records(&self) -> &[RecordInfo] {
        &self.records
    }

    /// The names of the records in one split, in table order.
    pub fn records_in(&self, split: Split) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| r.split == split)
            .map(|r| r.name.as_str())
            .collect()
    }

    /// The same database holding only the records `names` (table order kept): every other
    /// record is unknown to it, so code handed the view cannot read another record's
    /// annotations or signal ([`EcgError::UnknownRecord`]). Fails on a name this database
    /// does not hold.
    ///
    /// ```
    /// use dcl_ecg::{DS1_RECORDS, EcgError, MitBih, Split};
    /// let ds1 = MitBih::bundled()?.restricted(&DS1_RECORDS)?;
    /// assert_eq!(ds1.records().len(), 22);
    /// assert!(ds1.records_in(Split::Ds2).is_empty());
    /// assert!(matches!(ds1.annotations("100"), Err(EcgError::UnknownRecord(_))));
    /// # Ok::<(), EcgError>(())
    /// ```
    pub fn restricted(&self, names: &[&str]) -> Result<Self> {
        for name in names {
            self.record(name)?;
        }
        Ok(Self {
            dir: self.dir.clone(),
            records: self
                .records
                .iter()
                .filter(|r| names.contains(&r.name.as_str()))
                .cloned()
                .collect(),
            annotations: self
                .annotations
                .iter()
                .filter(|(name, _)| names.contains(&name.as_str()))
                .map(|(name, a)| (name.clone(), a.clone()))
                .collect(),
            wfdb: self.wfdb,
        })
    }

    /// One record's table row.
    pub fn record(&self, name: &str) -> Result<&RecordInfo> {
        self.records
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| EcgError::UnknownRecord(name.to_string()))
    }

    /// One record's annotations, sorted by sample.
    pub fn annotations(&self, name: &str) -> Result<&[Annotation]> {
        self.annotations
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| EcgError::UnknownRecord(name.to_string()))
    }

    /// Reads one record's raw ADC samples. Fails on a missing or corrupt file and on a signal
    /// whose length differs from the record table's.
    pub fn signal(&self, name: &str) -> Result<Vec<i16>> {
        let info = self.record(name)?;
        if self.wfdb {
            let (_, mut signals) = crate::wfdb::read_record(&self.dir, name)?;
            return Ok(signals.swap_remove(0));
        }
        let path = self.dir.join("signals").join(format!("{name}.i16le.gz"));
        // The table's length is checked against the file after reading, so it only sizes
        // the first allocation, and never beyond 32 MiB.
        let mut bytes = Vec::with_capacity((info.n_samples * 2).min(1 << 25));
        GzDecoder::new(BufReader::new(open_file(&path)?))
            .read_to_end(&mut bytes)
            .map_err(|source| EcgError::Io {
                path: path.clone(),
                source,
            })?;
        if bytes.len() % 2 != 0 || bytes.len() / 2 != info.n_samples {
            return Err(EcgError::SignalLength {
                record: name.to_string(),
                found: bytes.len() / 2,
                expected: info.n_samples,
            });
        }
        Ok(bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect())
    }
}

/// Sorts each record's annotations by sample and refuses two beats at one sample (an RR
/// interval of zero would make NaN features).
fn check_beats_apart(
    annotations: &mut BTreeMap<String, Vec<Annotation>>,
    file: &str,
) -> Result<()> {
    for (name, list) in annotations.iter_mut() {
        list.sort_by_key(|a| a.sample);
        let mut beats = list.iter().filter(|a| a.class.is_some());
        if let Some(first) = beats.next() {
            let mut last = first.sample;
            for b in beats {
                if b.sample == last {
                    return Err(EcgError::Format {
                        file: file.into(),
                        line: 0,
                        message: format!("record {name}: two beats at sample {last}"),
                    });
                }
                last = b.sample;
            }
        }
    }
    Ok(())
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| EcgError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn csv_error(file: &str, path: &Path, e: csv::Error) -> EcgError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => EcgError::Io {
            path: path.to_path_buf(),
            source,
        },
        kind => EcgError::Format {
            file: file.into(),
            line,
            message: format!("{kind:?}"),
        },
    }
}

fn check_header<R: Read>(
    reader: &mut csv::Reader<R>,
    file: &str,
    expected: &[&str],
    path: &Path,
) -> Result<()> {
    let header = reader.headers().map_err(|e| csv_error(file, path, e))?;
    let found: Vec<&str> = header.iter().collect();
    if found.len() < expected.len() || found[..expected.len()] != *expected {
        return Err(EcgError::Format {
            file: file.into(),
            line: 1,
            message: format!("unexpected header {found:?}, expected it to start with {expected:?}"),
        });
    }
    Ok(())
}

fn read_records(path: &Path) -> Result<Vec<RecordInfo>> {
    let file = open_file(path)?;
    let mut reader = csv::Reader::from_reader(BufReader::new(file));
    check_header(&mut reader, "records.csv", &RECORD_HEADER, path)?;
    let headers = reader
        .headers()
        .map_err(|e| csv_error("records.csv", path, e))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| EcgError::Format {
                file: "records.csv".into(),
                line: 1,
                message: format!("missing column {name:?}"),
            })
    };
    let (c_zero, c_split) = (column("adc_zero")?, column("split_dechazal")?);
    let mut records: Vec<RecordInfo> = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| csv_error("records.csv", path, e))?;
        let line = row.position().map_or(0, |p| p.line());
        let fmt = |message: String| EcgError::Format {
            file: "records.csv".into(),
            line,
            message,
        };
        let get = |i: usize| row.get(i).ok_or_else(|| fmt(format!("missing field {i}")));
        let name = get(0)?.to_string();
        if name.is_empty() || records.iter().any(|r| r.name == name) {
            return Err(fmt(format!("empty or duplicate record name {name:?}")));
        }
        let num = |i: usize| -> Result<f64> {
            let s = get(i)?;
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| fmt(format!("bad number {s:?}")))
        };
        let (fs, n, gain, zero) = (num(3)?, num(4)?, num(5)?, num(c_zero)?);
        if fs <= 0.0 || n < 1.0 || gain <= 0.0 || fs.fract() != 0.0 || n.fract() != 0.0 {
            return Err(fmt("sampling rate, length and gain must be positive".into()));
        }
        // Sane ranges, checked before anything is allocated or divided by: a length past
        // MAX_SAMPLES, a gain that turns samples into infinities, an ADC zero no 16-bit
        // sample can be near.
        if fs > MAX_FS_HZ {
            return Err(fmt(format!(
                "sampling rate {fs} Hz is above {MAX_FS_HZ} Hz"
            )));
        }
        if n > MAX_SAMPLES as f64 {
            return Err(fmt(format!("n_samples {n} is above {MAX_SAMPLES}")));
        }
        if !(MIN_GAIN..=MAX_GAIN).contains(&gain) {
            return Err(fmt(format!(
                "adc_gain_per_mV {gain} is outside [{MIN_GAIN}, {MAX_GAIN}]"
            )));
        }
        if zero.fract() != 0.0 || !(f64::from(i16::MIN)..=f64::from(i16::MAX)).contains(&zero) {
            return Err(fmt(format!("adc_zero {zero} is not a 16-bit sample value")));
        }
        let split = Split::parse(get(c_split)?)
            .ok_or_else(|| fmt(format!("bad split {:?}", get(c_split).unwrap_or(""))))?;
        records.push(RecordInfo {
            name,
            lead: get(1)?.to_string(),
            fs_hz: fs as u32,
            n_samples: n as usize,
            gain: gain as f32,
            zero: zero as i32,
            split,
        });
    }
    if records.is_empty() {
        return Err(EcgError::Format {
            file: "records.csv".into(),
            line: 0,
            message: "no records".into(),
        });
    }
    Ok(records)
}
