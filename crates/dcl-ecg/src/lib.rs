//! # dcl-ecg
//!
//! The MIT-BIH Arrhythmia Database (all 48 records, bundled with the crate under the ODC-By
//! license: see `data/mitdb/README.md`) as a heartbeat-classification task for dcl-enas:
//!
//! * [`MitBih`] reads the record table, the reference annotations and the raw signals, with a
//!   typed [`EcgError`] for a missing or truncated file, an annotation past the end of its
//!   signal, or an unknown symbol.
//! * [`AamiClass`] maps MIT-BIH beat symbols to the AAMI EC57 classes N / S / V / F / Q.
//! * [`extract_beats`] cuts normalised windows around annotated R peaks, with RR-interval
//!   features; [`InterPatientSplit`] applies de Chazal's inter-patient protocol (DS1 for
//!   training, DS2 for testing, paced records excluded) with a validation split by patient.
//!
//! No burn dependency: the beats are plain `f32` vectors that any trainer can consume.
//!
//! ```
//! use dcl_ecg::{extract_beats, AamiClass, BeatConfig, MitBih};
//! let db = MitBih::bundled()?;
//! let beats = extract_beats(&db, &["208"], &BeatConfig::default())?;
//! assert_eq!(beats.window, 128);
//! let counts = beats.class_counts();
//! assert!(counts[AamiClass::F.index()] > 300); // record 208 holds most of DS1's fusion beats
//! # Ok::<(), dcl_ecg::EcgError>(())
//! ```
#![warn(missing_docs)]

mod aami;
mod beats;
mod db;
mod error;
mod holdout;
mod scores;
pub mod wfdb;

pub use aami::{AamiClass, ClassSet};
pub use beats::{
    BeatConfig, BeatSet, DEFAULT_VALID_RECORDS, InterPatientSplit, LOCAL_RR_FEATURES, RR_FEATURES,
    extract_beats,
};
pub use db::{Annotation, DS1_RECORDS, DS2_RECORDS, MitBih, PACED_RECORDS, RecordInfo, Split};
pub use error::{EcgError, Result};
pub use holdout::{
    PSEUDO_TEST_MIN_BEATS, PSEUDO_TEST_RECORDS, mean_sensitivity_where, pseudo_test_group,
    pseudo_test_score,
};
pub use scores::AamiScores;
