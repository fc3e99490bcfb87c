//! Shared CSV reading: gzip detection, header checks, typed field parsing.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::BenchError;

/// Reads all of `reader`, un-gzipping it if it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gz(mut reader: impl Read, what: &str) -> Result<Vec<u8>, BenchError> {
    let io = |source| BenchError::Io {
        what: what.to_owned(),
        source,
    };
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw).map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// A CSV reader over `data` whose header must equal `expected`.
pub(crate) fn reader<'a>(
    data: &'a [u8],
    table: &'static str,
    expected: &[&str],
) -> Result<csv::Reader<&'a [u8]>, BenchError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data);
    let found: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_err(table, e))?
        .iter()
        .map(str::to_owned)
        .collect();
    if found
        .iter()
        .map(String::as_str)
        .ne(expected.iter().copied())
    {
        return Err(BenchError::Header {
            table,
            found,
            expected: expected.iter().map(|s| (*s).to_owned()).collect(),
        });
    }
    Ok(rdr)
}

pub(crate) fn csv_err(table: &'static str, e: csv::Error) -> BenchError {
    BenchError::Csv {
        table,
        message: e.to_string(),
    }
}

/// One data row with its line number, for typed field access.
pub(crate) struct Row<'r> {
    pub table: &'static str,
    pub line: u64,
    pub record: &'r csv::StringRecord,
    pub header: &'r [&'static str],
}

impl Row<'_> {
    pub fn text(&self, col: usize) -> &str {
        self.record.get(col).unwrap_or("")
    }

    fn bad(&self, col: usize, reason: &'static str) -> BenchError {
        BenchError::Value {
            table: self.table,
            line: self.line,
            column: self.header[col],
            value: self.text(col).to_owned(),
            reason,
        }
    }

    /// A finite number.
    pub fn f64(&self, col: usize) -> Result<f64, BenchError> {
        let v: f64 = self
            .text(col)
            .trim()
            .parse()
            .map_err(|_| self.bad(col, "not a number"))?;
        if !v.is_finite() {
            return Err(self.bad(col, "not finite"));
        }
        Ok(v)
    }

    /// A percentage in 0..=100.
    pub fn percent(&self, col: usize) -> Result<f64, BenchError> {
        let v = self.f64(col)?;
        if !(0.0..=100.0).contains(&v) {
            return Err(self.bad(col, "an accuracy must be within 0..=100"));
        }
        Ok(v)
    }

    /// A non-negative number.
    pub fn non_negative(&self, col: usize) -> Result<f64, BenchError> {
        let v = self.f64(col)?;
        if v < 0.0 {
            return Err(self.bad(col, "must not be negative"));
        }
        Ok(v)
    }

    /// A non-negative integer.
    pub fn u64(&self, col: usize) -> Result<u64, BenchError> {
        self.text(col)
            .trim()
            .parse()
            .map_err(|_| self.bad(col, "not a non-negative integer"))
    }

    pub fn arch_err(&self, source: dcl_graph::GraphError) -> BenchError {
        BenchError::Arch {
            table: self.table,
            line: self.line,
            source,
        }
    }

    pub fn mismatch(&self, col: usize, reason: &'static str) -> BenchError {
        self.bad(col, reason)
    }
}

/// Iterates the data rows of `rdr`, calling `f` with each.
pub(crate) fn for_each_row(
    rdr: &mut csv::Reader<&[u8]>,
    table: &'static str,
    header: &[&'static str],
    mut f: impl FnMut(&Row<'_>) -> Result<(), BenchError>,
) -> Result<usize, BenchError> {
    let mut record = csv::StringRecord::new();
    let mut rows = 0;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_err(table, e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        f(&Row {
            table,
            line,
            record: &record,
            header,
        })?;
        rows += 1;
    }
    if rows == 0 {
        return Err(BenchError::Empty(table));
    }
    Ok(rows)
}
