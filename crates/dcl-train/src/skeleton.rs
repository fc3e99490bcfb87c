//! [`Skeleton`]: the network around a searched cell (width, depth, kernel widths, head), as
//! choices of a wide [`NetSpace`](crate::NetSpace), and [`SkeletonMenu`], the values each
//! choice may take.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::cell::Kernels;
use crate::net::NetConfig;

/// The skeleton of one candidate: what [`NetConfig`] and [`Kernels`] say for a network of a
/// narrow space, chosen per candidate in a wide one.
///
/// Written `c16s3n1k7w5h32`: channels of the first stage, stages, cells per stage, stem kernel
/// width, width of the cell's `nor_conv_3x3`, hidden units of the head.
///
/// ```
/// use dcl_train::Skeleton;
/// let s: Skeleton = "c32s2n2k11w9h64".parse().unwrap();
/// assert_eq!((s.channels, s.stages, s.cells_per_stage), (32, 2, 2));
/// assert_eq!((s.stem_kernel, s.conv_kernel, s.head_hidden), (11, 9, 64));
/// assert_eq!(s.to_string(), "c32s2n2k11w9h64");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Skeleton {
    /// Channels of the first stage ([`NetConfig::channels`]).
    pub channels: u16,
    /// Stages ([`NetConfig::stages`]).
    pub stages: u8,
    /// Cells per stage ([`NetConfig::cells_per_stage`]).
    pub cells_per_stage: u8,
    /// Stem kernel width ([`NetConfig::stem_kernel`]), odd.
    pub stem_kernel: u8,
    /// Width of the cell's `nor_conv_3x3` ([`Kernels::conv_3x3`]), odd.
    pub conv_kernel: u8,
    /// Hidden units of the head ([`NetConfig::head_hidden`]).
    pub head_hidden: u16,
}

/// The letters of the six choices in a skeleton's text, in order.
const LETTERS: [char; 6] = ['c', 's', 'n', 'k', 'w', 'h'];

impl Skeleton {
    /// The six values in [`LETTERS`] order.
    fn values(&self) -> [usize; 6] {
        [
            self.channels as usize,
            self.stages as usize,
            self.cells_per_stage as usize,
            self.stem_kernel as usize,
            self.conv_kernel as usize,
            self.head_hidden as usize,
        ]
    }

    /// A skeleton from six values in [`LETTERS`] order, checked as [`SkeletonMenu::validate`]
    /// checks a menu's values.
    fn from_values(v: [usize; 6]) -> Result<Self, TrainError> {
        for (i, &x) in v.iter().enumerate() {
            SkeletonMenu::check_value(i, x)?;
        }
        // In range, each fits its field: channels and head at most 4,096, the others 63.
        Ok(Self {
            channels: v[0] as u16,
            stages: v[1] as u8,
            cells_per_stage: v[2] as u8,
            stem_kernel: v[3] as u8,
            conv_kernel: v[4] as u8,
            head_hidden: v[5] as u16,
        })
    }

    /// `base` with this skeleton's channels, stages, cells per stage, stem kernel and head.
    pub fn net_config(&self, base: &NetConfig) -> NetConfig {
        NetConfig {
            channels: self.channels as usize,
            stages: self.stages as usize,
            cells_per_stage: self.cells_per_stage as usize,
            stem_kernel: self.stem_kernel as usize,
            head_hidden: self.head_hidden as usize,
            ..*base
        }
    }

    /// `base` with this skeleton's `nor_conv_3x3` width.
    pub fn kernels(&self, base: Kernels) -> Kernels {
        Kernels {
            conv_3x3: self.conv_kernel as usize,
            ..base
        }
    }
}

impl fmt::Display for Skeleton {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, value) in LETTERS.iter().zip(self.values()) {
            write!(f, "{letter}{value}")?;
        }
        Ok(())
    }
}

impl FromStr for Skeleton {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, TrainError> {
        let bad = || {
            TrainError::Config(format!(
                "{s:?}: a skeleton is c<channels>s<stages>n<cells per stage>k<stem kernel>\
                 w<conv width>h<head units>, e.g. c16s3n1k7w5h32"
            ))
        };
        let mut values = [0usize; 6];
        let mut rest = s;
        for (i, letter) in LETTERS.iter().enumerate() {
            rest = rest.strip_prefix(*letter).ok_or_else(bad)?;
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if end == 0 || end > 5 {
                return Err(bad());
            }
            values[i] = rest[..end].parse().map_err(|_| bad())?;
            rest = &rest[end..];
        }
        if !rest.is_empty() {
            return Err(bad());
        }
        Self::from_values(values)
    }
}

/// The values each skeleton choice of a wide [`NetSpace`](crate::NetSpace) may take; a choice
/// with one value is fixed (no choice, no node in the predictor's graph).
///
/// ```
/// use dcl_train::SkeletonMenu;
/// let wide = SkeletonMenu::wide();
/// assert_eq!(wide.size(), 3 * 3 * 2 * 3 * 3 * 3);
/// assert!(wide.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkeletonMenu {
    /// Channels of the first stage (1 to 4,096).
    pub channels: Vec<usize>,
    /// Stages (1 to 8).
    pub stages: Vec<usize>,
    /// Cells per stage (1 to 8).
    pub cells_per_stage: Vec<usize>,
    /// Stem kernel widths (odd, at most 63).
    pub stem_kernel: Vec<usize>,
    /// Widths of the cell's `nor_conv_3x3` (odd, at most 63).
    pub conv_kernel: Vec<usize>,
    /// Hidden units of the head (0 to 4,096; 0: a linear classifier).
    pub head_hidden: Vec<usize>,
}

impl SkeletonMenu {
    /// The wide ECG space's menu: channels 8, 16, 32; stages 2, 3, 4; cells per stage 1, 2;
    /// stem kernel 5, 7, 11; conv width 3, 5, 9; head 0, 32, 64 hidden units (486
    /// skeletons, each list around the default's value).
    pub fn wide() -> Self {
        Self {
            channels: vec![8, 16, 32],
            stages: vec![2, 3, 4],
            cells_per_stage: vec![1, 2],
            stem_kernel: vec![5, 7, 11],
            conv_kernel: vec![3, 5, 9],
            head_hidden: vec![0, 32, 64],
        }
    }

    /// The six lists in the skeleton text's letter order, with their names.
    pub fn choices(&self) -> [(&'static str, &[usize]); 6] {
        [
            ("channels", &self.channels),
            ("stages", &self.stages),
            ("cells_per_stage", &self.cells_per_stage),
            ("stem_kernel", &self.stem_kernel),
            ("conv_kernel", &self.conv_kernel),
            ("head_hidden", &self.head_hidden),
        ]
    }

    /// Skeletons the menu holds (the product of the lists' lengths).
    pub fn size(&self) -> usize {
        self.choices()
            .iter()
            .map(|(_, v)| v.len())
            .fold(1usize, usize::saturating_mul)
    }

    fn check_value(choice: usize, v: usize) -> Result<(), TrainError> {
        let ok = match choice {
            0 => (1..=4096).contains(&v),
            1 | 2 => (1..=8).contains(&v),
            3 | 4 => v % 2 == 1 && v <= 63,
            _ => v <= 4096,
        };
        if ok {
            Ok(())
        } else {
            Err(TrainError::Config(format!(
                "skeleton {} {v}: channels 1-4096, stages and cells per stage 1-8, kernels odd \
                 up to 63, head 0-4096",
                [
                    "channels",
                    "stages",
                    "cells_per_stage",
                    "stem_kernel",
                    "conv_kernel",
                    "head_hidden"
                ][choice]
            )))
        }
    }

    /// Checks every list: not empty, no value twice, each value in its range.
    pub fn validate(&self) -> Result<(), TrainError> {
        for (i, (name, values)) in self.choices().iter().enumerate() {
            if values.is_empty() {
                return Err(TrainError::Config(format!(
                    "skeleton menu: {name} lists no value"
                )));
            }
            let mut sorted = values.to_vec();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != values.len() {
                return Err(TrainError::Config(format!(
                    "skeleton menu: {name} {values:?} lists a value twice"
                )));
            }
            for &v in values.iter() {
                Self::check_value(i, v)?;
            }
        }
        Ok(())
    }

    /// The skeleton of choice `picks[i]` from each list (in [`SkeletonMenu::choices`] order).
    pub(crate) fn skeleton(&self, picks: [usize; 6]) -> Skeleton {
        let c = self.choices();
        let v = std::array::from_fn(|i| c[i].1[picks[i]]);
        Skeleton::from_values(v).expect("a validated menu's values")
    }

    /// Where each of `skeleton`'s values sits in its list; `None` for a value the menu lacks.
    pub(crate) fn picks(&self, skeleton: &Skeleton) -> Option<[usize; 6]> {
        let c = self.choices();
        let v = skeleton.values();
        let mut picks = [0; 6];
        for i in 0..6 {
            picks[i] = c[i].1.iter().position(|&x| x == v[i])?;
        }
        Some(picks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_text_round_trips_and_bad_text_is_refused() {
        let menu = SkeletonMenu::wide();
        for picks in [[0, 0, 0, 0, 0, 0], [2, 2, 1, 2, 2, 2], [1, 0, 1, 1, 0, 1]] {
            let s = menu.skeleton(picks);
            assert_eq!(s.to_string().parse::<Skeleton>().unwrap(), s);
            assert_eq!(menu.picks(&s), Some(picks));
        }
        for bad in [
            "",
            "c16s3n1k7w5",
            "c16s3n1k7w5h32x",
            "c16s3n1k8w5h32",
            "c0s3n1k7w5h32",
            "c16s9n1k7w5h32",
            "s3c16n1k7w5h32",
            "c16s3n1k7w5h99999",
            "c-1s3n1k7w5h32",
        ] {
            assert!(bad.parse::<Skeleton>().is_err(), "{bad}");
        }
        let s: Skeleton = "c16s3n1k7w5h32".parse().unwrap();
        let net = s.net_config(&NetConfig::default());
        assert_eq!((net.channels, net.stages, net.head_hidden), (16, 3, 32));
        assert_eq!(s.kernels(Kernels::default()).conv_3x3, 5);
        assert_eq!(menu.picks(&"c12s3n1k7w5h32".parse().unwrap()), None);
    }

    #[test]
    fn menus_are_checked() {
        let mut m = SkeletonMenu::wide();
        m.stem_kernel = vec![4];
        assert!(m.validate().is_err());
        let mut m = SkeletonMenu::wide();
        m.stages = vec![];
        assert!(m.validate().is_err());
        let mut m = SkeletonMenu::wide();
        m.channels = vec![8, 8];
        assert!(m.validate().is_err());
    }
}
