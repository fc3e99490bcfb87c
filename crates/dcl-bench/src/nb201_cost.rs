//! The exact size and FLOPs of a NAS-Bench-201 network, computed from its cell.
//!
//! The network is NAS-Bench-201's (Dong & Yang, ICLR 2020, Fig. 1; `TinyNetwork` in its
//! code) with C = 16 and N = 5: a 3x3 convolution stem (3 → 16 channels) with batch norm;
//! three stages of N cells at 16, 32 and 64 channels, separated by two residual reduction
//! blocks (stride-2 ReLU-conv3x3-BN, ReLU-conv3x3-BN, and a shortcut of 2x2 average pooling
//! and a 1x1 convolution); batch norm, ReLU, global average pooling and a linear classifier.
//! Every edge of every cell holds its operation, whether or not the edge lies on a path from
//! input to output: `nor_conv_kxk` is ReLU, a k x k convolution without bias and an affine batch
//! norm (k²C² + 2C parameters); `skip_connect`, `avg_pool_3x3` and `none` have none.
//!
//! Parameters count every weight, bias and affine batch-norm parameter. FLOPs count, as the
//! benchmark's own cost tables do, the multiply-accumulates of the convolutions (output
//! positions × k² × C_in × C_out) and of the classifier (with its bias), for one image; pooling,
//! batch norm and ReLU count nothing. Both agree with the `params` (millions) and `flops`
//! (millions) that NAS-Bench-201 publishes for its CIFAR-10 networks; the tests check cells
//! from the copy of those values in github.com/darthvege-eng/CLUE-NAS
//! (`data/nasbench201_cifar10/{index}.json`).

use dcl_graph::{Nb201Cell, Nb201Op};
use serde::{Deserialize, Serialize};

use crate::Nb201Dataset;

/// Channels of the first stage (C).
const CHANNELS: u64 = 16;
/// Cells per stage (N).
const CELLS_PER_STAGE: u64 = 5;

/// Parameters and FLOPs of one NAS-Bench-201 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nb201Cost {
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates of one forward pass of one image (convolutions and classifier).
    pub flops: u64,
}

impl Nb201Cost {
    /// The cost of the network built from `cell` for `dataset` (CIFAR-10 and CIFAR-100 take
    /// 32x32 images, ImageNet16-120 16x16; 10, 100 and 120 classes).
    ///
    /// ```
    /// use dcl_bench::{Nb201Cost, Nb201Dataset};
    /// let best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    ///     .parse()
    ///     .unwrap();
    /// let cost = Nb201Cost::of(&best, Nb201Dataset::Cifar10);
    /// assert_eq!(cost.params, 1_073_466); // 1.07 M
    /// assert_eq!(cost.flops, 153_272_970); // 153.3 M
    /// ```
    pub fn of(cell: &Nb201Cell, dataset: Nb201Dataset) -> Self {
        let (side, classes) = match dataset {
            Nb201Dataset::Cifar10 => (32, 10),
            Nb201Dataset::Cifar100 => (32, 100),
            Nb201Dataset::ImageNet16 => (16, 120),
        };
        let mut cost = Self {
            params: 0,
            flops: 0,
        };
        // A k x k convolution from `cin` to `cout` channels giving a `side` x `side` output,
        // followed (when `bn`) by an affine batch norm.
        let mut conv = |k: u64, cin: u64, cout: u64, side: u64, bn: bool| {
            cost.params += k * k * cin * cout + if bn { 2 * cout } else { 0 };
            cost.flops += side * side * k * k * cin * cout;
        };
        let c = CHANNELS;
        conv(3, 3, c, side, true);
        let mut channels = c;
        let mut side = side;
        for stage in 0..3 {
            if stage > 0 {
                // The residual reduction block: halves the side, doubles the channels.
                let (cin, cout) = (channels, 2 * channels);
                side /= 2;
                conv(3, cin, cout, side, true);
                conv(3, cout, cout, side, true);
                conv(1, cin, cout, side, false);
                channels = cout;
            }
            for _ in 0..CELLS_PER_STAGE {
                for op in cell.ops() {
                    match op {
                        Nb201Op::NorConv3x3 => conv(3, channels, channels, side, true),
                        Nb201Op::NorConv1x1 => conv(1, channels, channels, side, true),
                        Nb201Op::None | Nb201Op::SkipConnect | Nb201Op::AvgPool3x3 => {}
                    }
                }
            }
        }
        // The last batch norm, then the classifier.
        cost.params += 2 * channels + channels * classes + classes;
        cost.flops += channels * classes + classes;
        cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Nb201Table;

    /// NAS-Bench-201's published CIFAR-10 costs (params and flops in millions, as the
    /// benchmark reports them) of cells by official index, as copied in
    /// github.com/darthvege-eng/CLUE-NAS, data/nasbench201_cifar10/{index}.json.
    const PUBLISHED: [(u32, f64, f64); 4] = [
        (10019, 0.587386, 82.49409),
        (1042, 0.830426, 117.88353),
        (8814, 0.185306, 23.51169),
        (554, 0.344346, 47.10465),
    ];

    #[test]
    fn costs_match_the_published_cifar10_values() {
        let table = Nb201Table::embedded().unwrap();
        for (index, params, flops) in PUBLISHED {
            let record = table.records().iter().find(|r| r.index == index).unwrap();
            let cost = Nb201Cost::of(&record.cell, Nb201Dataset::Cifar10);
            assert_eq!(
                cost.params,
                (params * 1e6).round() as u64,
                "params of {index}"
            );
            assert_eq!(cost.flops, (flops * 1e6).round() as u64, "flops of {index}");
        }
    }

    #[test]
    fn the_smallest_and_largest_networks() {
        // No convolution in the cell, and six 3x3 convolutions.
        let table = Nb201Table::embedded().unwrap();
        let costs: Vec<Nb201Cost> = table
            .records()
            .iter()
            .map(|r| Nb201Cost::of(&r.cell, Nb201Dataset::Cifar10))
            .collect();
        let min = costs.iter().map(|c| c.params).min().unwrap();
        let max = costs.iter().map(|c| c.params).max().unwrap();
        assert_eq!((min, max), (73_306, 1_531_546));
        let min = costs.iter().map(|c| c.flops).min().unwrap();
        let max = costs.iter().map(|c| c.flops).max().unwrap();
        assert_eq!((min, max), (7_783_050, 220_119_690));
        // The cost depends only on how many edges hold each convolution: one size per pair
        // (3x3 count, 1x1 count) with at most six in all, 28 pairs.
        let distinct: std::collections::HashSet<u64> = costs.iter().map(|c| c.params).collect();
        assert_eq!(distinct.len(), 28);
    }

    #[test]
    fn each_convolution_adds_its_weights_in_every_cell_of_every_stage() {
        let empty: Nb201Cell = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
            .parse()
            .unwrap();
        let one: Nb201Cell = "|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
            .parse()
            .unwrap();
        let pool: Nb201Cell = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|none~2|"
            .parse()
            .unwrap();
        for d in Nb201Dataset::ALL {
            let (e, o) = (Nb201Cost::of(&empty, d), Nb201Cost::of(&one, d));
            // 5 cells at 16, 32, 64 channels: 9C² + 2C each.
            let per_edge: u64 = [16u64, 32, 64]
                .iter()
                .map(|c| 5 * (9 * c * c + 2 * c))
                .sum();
            assert_eq!(o.params - e.params, per_edge);
            assert_eq!(Nb201Cost::of(&pool, d), e);
        }
        // The classifier differs between datasets, and ImageNet16's images are a quarter of
        // the area.
        let c10 = Nb201Cost::of(&one, Nb201Dataset::Cifar10);
        let c100 = Nb201Cost::of(&one, Nb201Dataset::Cifar100);
        let i16 = Nb201Cost::of(&one, Nb201Dataset::ImageNet16);
        assert_eq!(c100.params - c10.params, 64 * 90 + 90);
        assert_eq!(i16.params - c10.params, 64 * 110 + 110);
        assert_eq!(
            (c10.flops - 650) / 4,
            (i16.flops - (64 * 120 + 120)),
            "convolutions scale with the image area"
        );
    }
}
