"""Writes records of the bundled MIT-BIH copy as PhysioNet WFDB files with the `wfdb` Python
package (an independent writer), for the cross-check in tests/wfdb.rs.

    pip install wfdb==4.3.1
    python3 crates/dcl-ecg/tests/data/wfdb/make_fixtures.py

Written into this directory (the files are committed):
  100  two signals, format 212 (MIT-BIH's own layout): the bundled lead, and 2047 minus it
  208  one signal, format 16
  I01  twelve signals, format 16 (an INCART-like record; not a MIT-BIH name): the bundled
       lead of record 100 plus 10 k for signal k
with the reference annotations (.atr) of the bundled copy over the samples written.
"""
import csv
import gzip
import os

import numpy as np
import wfdb

HERE = os.path.dirname(os.path.abspath(__file__))
MITDB = os.path.join(HERE, "..", "..", "..", "data", "mitdb")


def bundled_signal(name):
    with gzip.open(os.path.join(MITDB, "signals", f"{name}.i16le.gz")) as f:
        return np.frombuffer(f.read(), dtype="<i2").astype(np.int64)


def bundled_annotations(name, n):
    with gzip.open(os.path.join(MITDB, "annotations.csv.gz"), "rt") as f:
        rows = [r for r in csv.DictReader(f) if r["record"] == name and int(r["sample"]) < n]
    return (
        np.array([int(r["sample"]) for r in rows]),
        [r["symbol"] for r in rows],
        [r["aux"] for r in rows],
    )


def leads():
    with open(os.path.join(MITDB, "records.csv")) as f:
        return {r["record"]: (r["stored_lead"], r["other_lead"]) for r in csv.DictReader(f)}


def write(name, source, n, columns, fmt, names):
    d = np.stack(columns, axis=1)
    wfdb.wrsamp(
        name,
        fs=360,
        units=["mV"] * d.shape[1],
        sig_name=names,
        d_signal=d,
        fmt=[fmt] * d.shape[1],
        adc_gain=[200.0] * d.shape[1],
        baseline=[1024] * d.shape[1],
        write_dir=HERE,
    )
    sample, symbol, aux = bundled_annotations(source, n)
    wfdb.wrann(name, "atr", sample, symbol=symbol, aux_note=aux, write_dir=HERE)


def main():
    lead = leads()
    s100 = bundled_signal("100")[:7200]
    write("100", "100", 7200, [s100, 2047 - s100], "212", list(lead["100"]))
    s208 = bundled_signal("208")[:7200]
    write("208", "208", 7200, [s208], "16", [lead["208"][0]])
    short = s100[:1800]
    write("I01", "100", 1800, [short + 10 * k for k in range(12)], "16",
          [f"L{k}" for k in range(12)])
    with open(os.path.join(HERE, "RECORDS"), "w") as f:
        f.write("100\n208\nI01\n")


if __name__ == "__main__":
    main()
