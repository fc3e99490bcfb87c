//! PhysioNet's WFDB files, as MIT-BIH and most PhysioNet databases ship: the header (`.hea`),
//! the signals (`.dat` in format 212, as MIT-BIH, or 16, as the INCART 12-lead set) and the
//! annotations (`.atr`, MIT format). Every malformed input is a typed error
//! ([`EcgError::Format`] naming the file and line, [`EcgError::SignalLength`],
//! [`EcgError::UnknownSymbol`]), never a panic: the tests feed these readers arbitrary bytes.
//!
//! A small reader of our own rather than a dependency: the `wfdb` crate reads headers and
//! signals but has no annotation reader (its modules are `header`, `record`, `signal`), and
//! `wfdb-rust` 0.3 reads headers and format 212 only; one reader for all three files keeps one
//! set of typed errors.
//!
//! ```no_run
//! let (header, signals) = dcl_ecg::wfdb::read_record("mitdb", "100")?;
//! assert_eq!(header.signals[0].description, "MLII");
//! assert_eq!(signals[0].len(), 650_000);
//! let annotations = dcl_ecg::wfdb::read_annotations("mitdb", "100", "atr")?;
//! # Ok::<(), dcl_ecg::EcgError>(())
//! ```

use std::path::Path;

use crate::db::MAX_SAMPLES;
use crate::error::{EcgError, Result};

/// The largest sample index an annotation may have (the longest record read).
pub const MAX_SAMPLE: usize = MAX_SAMPLES;

/// Most signals a header may declare (INCART has 12; far above any real record).
pub const MAX_SIGNALS: usize = 256;

/// A record's header: the record line and one line per signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The record's name.
    pub record: String,
    /// Sampling frequency per signal, Hz.
    pub fs_hz: f64,
    /// Samples per signal.
    pub n_samples: usize,
    /// The signals, in order.
    pub signals: Vec<SignalSpec>,
}

/// One signal line of a header.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    /// The file holding it (signals sharing a file are interleaved in it, frame by frame).
    pub file: String,
    /// Storage format: 212 or 16.
    pub format: u16,
    /// ADC units per physical unit (per mV for ECG).
    pub gain: f64,
    /// ADC value of physical zero.
    pub baseline: i32,
    /// Physical units (`mV` when the header gives none).
    pub units: String,
    /// ADC value at the middle of the converter's range.
    pub adc_zero: i32,
    /// First sample's value, when given.
    pub initial_value: Option<i32>,
    /// 16-bit sum of all samples, when given; checked on reading.
    pub checksum: Option<i16>,
    /// The lead or signal name (`MLII`, `V1`, ...).
    pub description: String,
}

fn format_error(file: &str, line: u64, message: String) -> EcgError {
    EcgError::Format {
        file: file.into(),
        line,
        message,
    }
}

impl Header {
    /// Parses a header's text (`file` names it in errors).
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let (n, record_line) = lines
            .next()
            .ok_or_else(|| format_error(file, 0, "no record line".into()))?;
        let err = |line: u64, m: String| format_error(file, line, m);
        let mut fields = record_line.split_whitespace();
        let record = fields
            .next()
            .ok_or_else(|| err(n, "empty record line".into()))?
            .to_owned();
        if record.contains('/') {
            return Err(err(
                n,
                format!("multi-segment record {record:?} is not supported"),
            ));
        }
        let n_signals: usize = fields
            .next()
            .ok_or_else(|| err(n, "no signal count".into()))?
            .parse()
            .map_err(|_| err(n, "the signal count is not a number".into()))?;
        if n_signals == 0 || n_signals > MAX_SIGNALS {
            return Err(err(
                n,
                format!("{n_signals} signals (1 to {MAX_SIGNALS} are read)"),
            ));
        }
        let fs_hz: f64 = match fields.next() {
            None => 250.0,
            Some(f) => {
                let f = f.split(['/', '(']).next().unwrap_or(f);
                f.parse()
                    .map_err(|_| err(n, format!("bad sampling frequency {f:?}")))?
            }
        };
        if !(fs_hz.is_finite() && fs_hz > 0.0 && fs_hz <= crate::db::MAX_FS_HZ) {
            return Err(err(n, format!("sampling frequency {fs_hz} out of range")));
        }
        let n_samples: usize = fields
            .next()
            .ok_or_else(|| err(n, "no sample count (not supported)".into()))?
            .parse()
            .map_err(|_| err(n, "the sample count is not a number".into()))?;
        if n_samples == 0 || n_samples > MAX_SAMPLES {
            return Err(err(
                n,
                format!("{n_samples} samples (1 to {MAX_SAMPLES} are read)"),
            ));
        }
        let mut signals = Vec::with_capacity(n_signals);
        for _ in 0..n_signals {
            let (n, line) = lines
                .next()
                .ok_or_else(|| err(0, format!("{n_signals} signals announced, fewer given")))?;
            signals.push(SignalSpec::parse(line, file, n)?);
        }
        Ok(Self {
            record,
            fs_hz,
            n_samples,
            signals,
        })
    }
}

impl SignalSpec {
    fn parse(line: &str, file: &str, n: u64) -> Result<Self> {
        let err = |m: String| format_error(file, n, m);
        let mut fields = line.split_whitespace();
        let name = fields
            .next()
            .ok_or_else(|| err("empty signal line".into()))?;
        if name.contains(['/', '\\']) || name == ".." || name == "-" {
            return Err(err(format!(
                "signal file {name:?}: only plain file names are read"
            )));
        }
        let format_field = fields.next().ok_or_else(|| err("no format".into()))?;
        if format_field.contains(['x', ':', '+']) {
            return Err(err(format!(
                "format {format_field:?}: oversampling, skew and offsets are not supported"
            )));
        }
        let format: u16 = format_field
            .parse()
            .map_err(|_| err(format!("bad format {format_field:?}")))?;
        if format != 212 && format != 16 {
            return Err(err(format!("format {format} (212 and 16 are read)")));
        }
        let gain_field = fields.next().unwrap_or("200");
        let (gain_part, units) = match gain_field.split_once('/') {
            Some((g, u)) => (g, u.to_owned()),
            None => (gain_field, "mV".to_owned()),
        };
        let (gain_text, baseline) = match gain_part.split_once('(') {
            Some((g, b)) => {
                let b = b
                    .strip_suffix(')')
                    .ok_or_else(|| err(format!("bad gain {gain_field:?}")))?;
                (
                    g,
                    Some(
                        b.parse::<i32>()
                            .map_err(|_| err(format!("bad baseline {b:?}")))?,
                    ),
                )
            }
            None => (gain_part, None),
        };
        let mut gain: f64 = gain_text
            .parse()
            .map_err(|_| err(format!("bad gain {gain_text:?}")))?;
        if gain == 0.0 {
            gain = 200.0; // WFDB: a zero gain means "uncalibrated", read as the default
        }
        if !(gain.is_finite() && (crate::db::MIN_GAIN..=crate::db::MAX_GAIN).contains(&gain)) {
            return Err(err(format!("gain {gain} out of range")));
        }
        let int = |v: Option<&str>, what: &str| -> Result<Option<i32>> {
            v.map(|s| {
                s.parse::<i32>()
                    .map_err(|_| err(format!("bad {what} {s:?}")))
            })
            .transpose()
        };
        let _resolution = int(fields.next(), "ADC resolution")?;
        let adc_zero = int(fields.next(), "ADC zero")?.unwrap_or(0);
        let initial_value = int(fields.next(), "initial value")?;
        let checksum = int(fields.next(), "checksum")?.map(|c| c as i16);
        let _block_size = int(fields.next(), "block size")?;
        let description = fields.collect::<Vec<_>>().join(" ");
        Ok(Self {
            file: name.to_owned(),
            format,
            gain,
            baseline: baseline.unwrap_or(adc_zero),
            units,
            adc_zero,
            initial_value,
            checksum,
            description,
        })
    }
}

/// Decodes `n_frames` frames of `n_signals` interleaved signals stored in `format` (212 or 16)
/// from `bytes`; one `Vec` per signal. Bytes past the last frame are ignored; too few are
/// [`EcgError::SignalLength`] (`record` names it).
pub fn decode(
    format: u16,
    n_signals: usize,
    n_frames: usize,
    bytes: &[u8],
    record: &str,
) -> Result<Vec<Vec<i16>>> {
    let total = n_signals
        .checked_mul(n_frames)
        .filter(|&t| t <= MAX_SAMPLES.saturating_mul(MAX_SIGNALS))
        .ok_or_else(|| EcgError::Config(format!("{n_signals} x {n_frames} samples")))?;
    let needed = match format {
        16 => total * 2,
        212 => total.div_ceil(2) * 3,
        f => {
            return Err(EcgError::Config(format!(
                "format {f} (212 and 16 are read)"
            )));
        }
    };
    if bytes.len() < needed {
        let found = match format {
            16 => bytes.len() / 2,
            _ => bytes.len() / 3 * 2,
        } / n_signals.max(1);
        return Err(EcgError::SignalLength {
            record: record.to_owned(),
            found,
            expected: n_frames,
        });
    }
    let mut out: Vec<Vec<i16>> = (0..n_signals)
        .map(|_| Vec::with_capacity(n_frames))
        .collect();
    let mut push = |i: usize, v: i16| out[i % n_signals].push(v);
    match format {
        16 => {
            for (i, b) in bytes[..needed].chunks_exact(2).enumerate() {
                push(i, i16::from_le_bytes([b[0], b[1]]));
            }
        }
        _ => {
            // Two 12-bit two's-complement samples in three bytes: the low byte of the first,
            // the high nibbles of both, the low byte of the second.
            let twelve = |v: u16| -> i16 { ((v << 4) as i16) >> 4 };
            for (k, b) in bytes[..needed].chunks_exact(3).enumerate() {
                let first = u16::from(b[0]) | (u16::from(b[1] & 0x0f) << 8);
                let second = u16::from(b[2]) | (u16::from(b[1] & 0xf0) << 4);
                push(2 * k, twelve(first));
                if 2 * k + 1 < total {
                    push(2 * k + 1, twelve(second));
                }
            }
        }
    }
    Ok(out)
}

/// Reads the header of record `name` of directory `dir` (`<name>.hea`).
pub fn read_header(dir: impl AsRef<Path>, name: &str) -> Result<Header> {
    let hea = format!("{name}.hea");
    let path = dir.as_ref().join(&hea);
    let text = std::fs::read_to_string(&path).map_err(|source| EcgError::Io {
        path: path.clone(),
        source,
    })?;
    Header::parse(&text, &hea)
}

/// Reads record `name` of directory `dir`: its header and every signal (raw ADC values), each
/// checked against the header's checksum and initial value when it gives them.
pub fn read_record(dir: impl AsRef<Path>, name: &str) -> Result<(Header, Vec<Vec<i16>>)> {
    let dir = dir.as_ref();
    let hea = format!("{name}.hea");
    let header = read_header(dir, name)?;
    let mut signals: Vec<Option<Vec<i16>>> = vec![None; header.signals.len()];
    // Signals that share a file are interleaved in it, in header order.
    let mut files: Vec<&str> = Vec::new();
    for s in &header.signals {
        if !files.contains(&s.file.as_str()) {
            files.push(&s.file);
        }
    }
    for file in files {
        let members: Vec<usize> = (0..header.signals.len())
            .filter(|&i| header.signals[i].file == file)
            .collect();
        let format = header.signals[members[0]].format;
        if members.iter().any(|&i| header.signals[i].format != format) {
            return Err(format_error(
                &hea,
                0,
                format!("signals in {file} with different formats"),
            ));
        }
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(|source| EcgError::Io {
            path: path.clone(),
            source,
        })?;
        let decoded = decode(format, members.len(), header.n_samples, &bytes, name)?;
        for (&i, values) in members.iter().zip(decoded) {
            signals[i] = Some(values);
        }
    }
    let signals: Vec<Vec<i16>> = signals.into_iter().flatten().collect();
    for (spec, values) in header.signals.iter().zip(&signals) {
        if let Some(c) = spec.checksum {
            let sum = values.iter().fold(0i16, |a, &v| a.wrapping_add(v));
            if sum != c {
                return Err(format_error(
                    &hea,
                    0,
                    format!(
                        "signal {} ({}): checksum {sum} of the samples, {c} in the header",
                        spec.description, spec.file
                    ),
                ));
            }
        }
        if let (Some(v0), Some(&first)) = (spec.initial_value, values.first())
            && i32::from(first) != v0
        {
            return Err(format_error(
                &hea,
                0,
                format!(
                    "signal {} ({}): first sample {first}, initial value {v0} in the header",
                    spec.description, spec.file
                ),
            ));
        }
    }
    Ok((header, signals))
}

/// One annotation of a WFDB annotation file.
#[derive(Debug, Clone, PartialEq)]
pub struct WfdbAnnotation {
    /// Sample index.
    pub sample: usize,
    /// The annotation's mnemonic (`N`, `V`, `+`, ...).
    pub symbol: String,
    /// Its auxiliary text (`(AFIB` for a rhythm change), empty when none.
    pub aux: String,
}

/// The mnemonics of the standard annotation codes (WFDB's `ecgcodes.h`), by code.
const CODES: [&str; 50] = [
    "", "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q", "~", "`", "|", "'", "s",
    "T", "*", "D", "\"", "=", "p", "B", "^", "t", "+", "u", "?", "!", "[", "]", "e", "n", "@", "x",
    "f", "(", ")", "r", "", "", "", "", "", "", "", "",
];

/// Decodes an annotation file in MIT format (`file` names it in errors).
pub fn decode_annotations(bytes: &[u8], file: &str) -> Result<Vec<WfdbAnnotation>> {
    const SKIP: u16 = 59;
    const NUM: u16 = 60;
    const SUB: u16 = 61;
    const CHN: u16 = 62;
    const AUX: u16 = 63;
    let err = |at: usize, m: String| format_error(file, 0, format!("byte {at}: {m}"));
    let mut out: Vec<WfdbAnnotation> = Vec::new();
    let mut sample: u64 = 0;
    let mut at = 0;
    let word = |at: usize| -> Option<u16> {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    loop {
        let Some(w) = word(at) else {
            if at == bytes.len() {
                break; // no end marker: accepted, as WFDB does
            }
            return Err(err(at, "odd length".into()));
        };
        at += 2;
        if w == 0 {
            break;
        }
        let (code, value) = (w >> 10, w & 0x3ff);
        match code {
            SKIP => {
                let (Some(hi), Some(lo)) = (word(at), word(at + 2)) else {
                    return Err(err(at, "SKIP without its interval".into()));
                };
                at += 4;
                let skip = (u32::from(hi) << 16 | u32::from(lo)) as i32;
                sample = sample
                    .checked_add_signed(i64::from(skip))
                    .ok_or_else(|| err(at, "SKIP before the first sample".into()))?;
            }
            NUM | SUB | CHN => {}
            AUX => {
                let len = usize::from(value);
                let text = bytes
                    .get(at..at + len)
                    .ok_or_else(|| err(at, format!("AUX of {len} bytes past the end")))?;
                at += len + len % 2;
                if let Some(last) = out.last_mut() {
                    last.aux = String::from_utf8_lossy(text)
                        .trim_end_matches('\0')
                        .to_owned();
                }
            }
            _ => {
                sample += u64::from(value);
                let symbol = CODES.get(usize::from(code)).copied().unwrap_or("");
                if symbol.is_empty() {
                    return Err(EcgError::UnknownSymbol {
                        record: file.to_owned(),
                        sample: sample as usize,
                        symbol: format!("code {code}"),
                    });
                }
                if sample > MAX_SAMPLES as u64 {
                    return Err(err(at, format!("sample {sample} past any record's end")));
                }
                out.push(WfdbAnnotation {
                    sample: sample as usize,
                    symbol: symbol.to_owned(),
                    aux: String::new(),
                });
            }
        }
    }
    Ok(out)
}

/// Reads the annotations of record `name` by `annotator` (`atr` for the reference ones):
/// the file `<name>.<annotator>` of `dir`.
pub fn read_annotations(
    dir: impl AsRef<Path>,
    name: &str,
    annotator: &str,
) -> Result<Vec<WfdbAnnotation>> {
    let file = format!("{name}.{annotator}");
    let path = dir.as_ref().join(&file);
    let bytes = std::fs::read(&path).map_err(|source| EcgError::Io {
        path: path.clone(),
        source,
    })?;
    decode_annotations(&bytes, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mit_bih_header_reads_field_by_field() {
        let text = "100 2 360 650000\n\
                    100.dat 212 200 11 1024 995 -22131 0 MLII\n\
                    100.dat 212 200(1000)/uV 11 1024 1011 20052 0 V5\n\
                    # 69 M 1085 1629 x1\n";
        let h = Header::parse(text, "100.hea").unwrap();
        assert_eq!(
            (h.record.as_str(), h.fs_hz, h.n_samples),
            ("100", 360.0, 650_000)
        );
        let s = &h.signals[0];
        assert_eq!(
            (s.format, s.gain, s.baseline, s.adc_zero),
            (212, 200.0, 1024, 1024)
        );
        assert_eq!((s.initial_value, s.checksum), (Some(995), Some(-22131)));
        assert_eq!((s.description.as_str(), s.units.as_str()), ("MLII", "mV"));
        let t = &h.signals[1];
        assert_eq!(
            (t.baseline, t.units.as_str(), t.description.as_str()),
            (1000, "uV", "V5")
        );
        for bad in [
            "",
            "100",
            "100 0 360 10\n",
            "100 1 360 10\n",
            "100 1 360 10\nx.dat 8 200 11 0\n",
            "100 1 360 10\nx.dat 212x2 200\n",
            "100 1 -360 10\nx.dat 16\n",
            "100 1 360 0\nx.dat 16\n",
            "100 1 360 10\n../x.dat 16\n",
            "100 1 360 10\nx.dat 16 200(5 11\n",
            "100/2 1 360 10\nx.dat 16\n",
        ] {
            assert!(Header::parse(bad, "t.hea").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn format_212_packs_two_twelve_bit_samples_in_three_bytes() {
        // 0x123 and -1 (0xfff); then 0x7ff alone (odd count).
        let bytes = [0x23, 0xf1, 0xff, 0xff, 0x07, 0x00];
        let v = decode(212, 1, 3, &bytes, "t").unwrap();
        assert_eq!(v, vec![vec![0x123, -1, 0x7ff]]);
        let two = decode(212, 2, 1, &bytes[..3], "t").unwrap();
        assert_eq!(two, vec![vec![0x123], vec![-1]]);
        assert!(matches!(
            decode(212, 2, 2, &bytes[..5], "t"),
            Err(EcgError::SignalLength { .. })
        ));
        let sixteen = decode(16, 2, 2, &[1, 0, 0xff, 0xff, 2, 0, 3, 0], "t").unwrap();
        assert_eq!(sixteen, vec![vec![1, 2], vec![-1, 3]]);
    }

    #[test]
    fn annotation_codes_intervals_skips_and_aux() {
        // N after 18 samples, AUX "(N" on it, SKIP +1000, V after 2 more, end.
        let mut b = Vec::new();
        let w = |b: &mut Vec<u8>, code: u16, v: u16| b.extend((code << 10 | v).to_le_bytes());
        w(&mut b, 1, 18);
        w(&mut b, 63, 2);
        b.extend(b"(N");
        w(&mut b, 59, 0);
        b.extend([0, 0, 0xe8, 0x03]);
        w(&mut b, 5, 2);
        b.extend([0, 0]);
        let a = decode_annotations(&b, "t.atr").unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].sample, a[0].symbol.as_str(), a[0].aux.as_str()),
            (18, "N", "(N")
        );
        assert_eq!((a[1].sample, a[1].symbol.as_str()), (1020, "V"));
        assert!(matches!(
            decode_annotations(&[0x01, 0xc0], "t"), // code 48: unassigned
            Err(EcgError::UnknownSymbol { .. }) | Err(EcgError::Format { .. })
        ));
        assert!(decode_annotations(&[1], "t").is_err());
    }
}
