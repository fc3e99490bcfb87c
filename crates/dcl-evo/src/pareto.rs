//! Pareto dominance for multi-objective search: non-dominated sorting and crowding distance
//! (Deb et al., "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEC 2002)
//! and the exact hypervolume of a two-objective point set.
//!
//! Every objective here is **minimised**: pass `-accuracy` (or `1 - normalised accuracy`) for
//! an objective that is maximised.
//!
//! ```
//! use dcl_evo::pareto::{hypervolume_2d, non_dominated_sort};
//!
//! // (error, parameters): the first three trade one for the other, the last is dominated.
//! let points = [[0.1, 0.9], [0.5, 0.5], [0.9, 0.1], [0.6, 0.6]];
//! assert_eq!(non_dominated_sort(&points), vec![vec![0, 1, 2], vec![3]]);
//! // The area they dominate inside the box up to (1, 1).
//! let hv = hypervolume_2d(&points, [1.0, 1.0]);
//! assert!((hv - (0.9 * 0.1 + 0.5 * 0.4 + 0.1 * 0.4)).abs() < 1e-12);
//! ```

/// Whether `a` dominates `b`: no worse in every objective and better in at least one (all
/// objectives minimised). Points of different lengths are compared on their common prefix.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        if x < y {
            better = true;
        }
    }
    better
}

/// Sorts `points` into fronts (indices into `points`): the first front holds the points no
/// other point dominates, the second those dominated only by the first, and so on. Indices
/// within a front are ascending. A point with a NaN objective neither dominates nor is
/// dominated by anything.
pub fn non_dominated_sort<P: AsRef<[f64]>>(points: &[P]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in (i + 1)..n {
            let (a, b) = (points[i].as_ref(), points[j].as_ref());
            if dominates(a, b) {
                dominates_list[i].push(j);
                dominated_by_count[j] += 1;
            } else if dominates(b, a) {
                dominates_list[j].push(i);
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// The crowding distance of each point of `front` (indices into `points`), in the order of
/// `front`: for every objective, the points with the smallest and largest value get infinity,
/// and each other point the gap between its two neighbours divided by the objective's range.
/// An objective whose values are all equal adds nothing.
pub fn crowding_distance<P: AsRef<[f64]>>(points: &[P], front: &[usize]) -> Vec<f64> {
    let m = front.len();
    let mut distance = vec![0.0; m];
    if m == 0 {
        return distance;
    }
    let dims = front
        .iter()
        .map(|&i| points[i].as_ref().len())
        .min()
        .unwrap_or(0);
    let mut order: Vec<usize> = (0..m).collect();
    for d in 0..dims {
        let value = |k: usize| points[front[k]].as_ref()[d];
        order.sort_by(|&a, &b| value(a).total_cmp(&value(b)).then(a.cmp(&b)));
        let (lo, hi) = (value(order[0]), value(order[m - 1]));
        distance[order[0]] = f64::INFINITY;
        distance[order[m - 1]] = f64::INFINITY;
        let range = hi - lo;
        if range.is_nan() || range <= 0.0 || range.is_infinite() {
            continue;
        }
        for w in 1..m.saturating_sub(1) {
            let gap = value(order[w + 1]) - value(order[w - 1]);
            distance[order[w]] += gap / range;
        }
    }
    distance
}

/// The exact hypervolume of `points` (both objectives minimised) with respect to `reference`:
/// the area of the region that some point dominates and that dominates `reference`. Points
/// not strictly better than `reference` in both objectives, and points with a NaN, add
/// nothing; an empty set has hypervolume 0.
pub fn hypervolume_2d(points: &[[f64; 2]], reference: [f64; 2]) -> f64 {
    let mut inside: Vec<[f64; 2]> = points
        .iter()
        .copied()
        .filter(|p| p[0] < reference[0] && p[1] < reference[1])
        .collect();
    inside.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    // Sweep along the first objective; only points that lower the best second objective so
    // far are on the front, and each adds the slab between its second objective and the
    // previous front point's.
    let mut area = 0.0;
    let mut ceiling = reference[1];
    for p in inside {
        if p[1] < ceiling {
            area += (reference[0] - p[0]) * (ceiling - p[1]);
            ceiling = p[1];
        }
    }
    area
}

/// The indices of the points of `points` that no other point dominates (the first front of
/// [`non_dominated_sort`]), ascending.
pub fn pareto_front<P: AsRef<[f64]>>(points: &[P]) -> Vec<usize> {
    non_dominated_sort(points)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// NSGA-II's order of `points`: front by front, and within a front by decreasing crowding
/// distance (ties by index). Its first `n` indices are NSGA-II's environmental selection of
/// `n` points.
pub fn nsga2_order<P: AsRef<[f64]>>(points: &[P]) -> Vec<usize> {
    let mut order = Vec::with_capacity(points.len());
    for front in non_dominated_sort(points) {
        let distance = crowding_distance(points, &front);
        let mut by_distance: Vec<(usize, f64)> = front.into_iter().zip(distance).collect();
        by_distance.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        order.extend(by_distance.into_iter().map(|(i, _)| i));
    }
    order
}

/// One number per point that orders points as NSGA-II's crowded-comparison operator does:
/// higher is better; a lower front always wins, and within a front a larger crowding
/// distance. Lets fitness-based tournaments select on rank and crowding.
pub fn crowded_fitness<P: AsRef<[f64]>>(points: &[P]) -> Vec<f64> {
    let mut key = vec![f64::NEG_INFINITY; points.len()];
    for (rank, front) in non_dominated_sort(points).into_iter().enumerate() {
        let distance = crowding_distance(points, &front);
        for (i, d) in front.into_iter().zip(distance) {
            // d / (1 + d) maps [0, inf] into [0, 1], keeping fronts apart.
            let bonus = if d.is_infinite() {
                0.999
            } else {
                0.998 * d / (1.0 + d)
            };
            key[i] = -(rank as f64) + bonus;
        }
    }
    key
}

/// A fixed frame for the hypervolume of (fitness, cost) fronts in a table-backed space, so
/// that the figure cannot be tuned: fitness (maximised) and cost (minimised) are normalised
/// by the table's minimum and maximum into `[0, 1]`, both minimised, and the reference point
/// is the table's **median** fitness and **median** cost. Only architectures better than the
/// median in both count.
///
/// ```
/// use dcl_evo::pareto::TableReference;
/// // A table of four architectures: (fitness, cost).
/// let table = [(90.0, 4.0), (80.0, 1.0), (70.0, 3.0), (60.0, 2.0)];
/// let frame = TableReference::new(&table).unwrap();
/// assert_eq!(frame.point(90.0, 1.0), [0.0, 0.0]);
/// assert_eq!(frame.reference(), [(90.0 - 75.0) / 30.0, (2.5 - 1.0) / 3.0]);
/// // The table's own front: only (80, 1) is better than both medians (75, 2.5).
/// let hv = frame.hypervolume(&table);
/// assert!((hv - (0.5 - 1.0 / 3.0) * 0.5).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableReference {
    fitness: (f64, f64),
    cost: (f64, f64),
    median: (f64, f64),
}

impl TableReference {
    /// The frame of `table`'s (fitness, cost) pairs; `None` when the table is empty, holds a
    /// non-finite value, or a column is constant.
    pub fn new(table: &[(f64, f64)]) -> Option<Self> {
        if table.is_empty() || table.iter().any(|(f, c)| !f.is_finite() || !c.is_finite()) {
            return None;
        }
        let range = |v: &[f64]| {
            (
                v.iter().copied().fold(f64::MAX, f64::min),
                v.iter().copied().fold(f64::MIN, f64::max),
            )
        };
        let f: Vec<f64> = table.iter().map(|p| p.0).collect();
        let c: Vec<f64> = table.iter().map(|p| p.1).collect();
        let (fitness, cost) = (range(&f), range(&c));
        if fitness.0 >= fitness.1 || cost.0 >= cost.1 {
            return None;
        }
        Some(Self {
            fitness,
            cost,
            median: (crate::median(&f), crate::median(&c)),
        })
    }

    /// The normalised point of an architecture: `[(max - fitness) / range, (cost - min) /
    /// range]`, both minimised.
    pub fn point(&self, fitness: f64, cost: f64) -> [f64; 2] {
        [
            (self.fitness.1 - fitness) / (self.fitness.1 - self.fitness.0),
            (cost - self.cost.0) / (self.cost.1 - self.cost.0),
        ]
    }

    /// The reference point: the medians, normalised.
    pub fn reference(&self) -> [f64; 2] {
        self.point(self.median.0, self.median.1)
    }

    /// The table's median fitness and median cost.
    pub fn medians(&self) -> (f64, f64) {
        self.median
    }

    /// The hypervolume of the (fitness, cost) pairs in this frame.
    pub fn hypervolume(&self, points: &[(f64, f64)]) -> f64 {
        let normalised: Vec<[f64; 2]> = points.iter().map(|&(f, c)| self.point(f, c)).collect();
        hypervolume_2d(&normalised, self.reference())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fronts_of_a_hand_drawn_set() {
        // Minimise both. Front 1: (1,5) (2,3) (4,1); front 2: (3,4) (5,2); front 3: (5,5);
        // (2,3) twice: equal points do not dominate each other, both are on front 1.
        let p = [
            [3.0, 4.0],
            [1.0, 5.0],
            [5.0, 5.0],
            [2.0, 3.0],
            [4.0, 1.0],
            [5.0, 2.0],
            [2.0, 3.0],
        ];
        assert_eq!(
            non_dominated_sort(&p),
            vec![vec![1, 3, 4, 6], vec![0, 5], vec![2]]
        );
        assert_eq!(pareto_front(&p), vec![1, 3, 4, 6]);
        assert!(dominates(&[1.0, 1.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]));
        assert!(!dominates(&[0.0, 3.0], &[1.0, 2.0]));
    }

    #[test]
    fn crowding_distance_of_a_hand_computed_front() {
        // Front sorted by x: (0,10) (1,6) (3,3) (6,1) (10,0); ranges 10 and 10.
        // (1,6): (3-0)/10 + (10-3)/10 = 1.0; (3,3): (6-1)/10 + (6-1)/10 = 1.0;
        // (6,1): (10-3)/10 + (3-0)/10 = 1.0; the ends are infinite.
        let p = [[3.0, 3.0], [0.0, 10.0], [10.0, 0.0], [1.0, 6.0], [6.0, 1.0]];
        let d = crowding_distance(&p, &[0, 1, 2, 3, 4]);
        assert_eq!(d[1], f64::INFINITY);
        assert_eq!(d[2], f64::INFINITY);
        for k in [0, 3, 4] {
            assert!((d[k] - 1.0).abs() < 1e-12, "{d:?}");
        }
        // Moving the middle point towards one neighbour changes its neighbours' distances.
        let q = [[2.0, 5.0], [0.0, 10.0], [10.0, 0.0], [1.0, 6.0], [6.0, 1.0]];
        let d = crowding_distance(&q, &[0, 1, 2, 3, 4]);
        assert!((d[0] - ((6.0 - 1.0) / 10.0 + (6.0 - 1.0) / 10.0)).abs() < 1e-12);
        assert!((d[3] - ((2.0 - 0.0) / 10.0 + (10.0 - 5.0) / 10.0)).abs() < 1e-12);
        // Two points: both ends.
        assert_eq!(crowding_distance(&q, &[0, 3]), vec![f64::INFINITY; 2]);
        assert!(crowding_distance(&q, &[]).is_empty());
    }

    #[test]
    fn nsga2_order_goes_front_by_front_and_by_crowding() {
        // Front 1: (0,10) (1,6) (3,3) (6,1) (10,0), its two ends (infinite distance) first;
        // front 2: (7,7), last.
        let p = [
            [3.0, 3.0],
            [0.0, 10.0],
            [7.0, 7.0],
            [1.0, 6.0],
            [6.0, 1.0],
            [10.0, 0.0],
        ];
        let order = nsga2_order(&p);
        assert_eq!(&order[..2], &[1, 5]);
        assert_eq!(order[5], 2);
        let key = crowded_fitness(&p);
        assert!(
            key[2]
                < key
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != 2)
                    .map(|(_, k)| *k)
                    .fold(f64::INFINITY, f64::min)
        );
        assert!(key[1] > key[0] && key[5] > key[0]);
    }

    #[test]
    fn hypervolume_of_hand_computed_sets() {
        assert_eq!(hypervolume_2d(&[], [1.0, 1.0]), 0.0);
        assert_eq!(hypervolume_2d(&[[0.0, 0.0]], [1.0, 2.0]), 2.0);
        // Outside the reference box, or on its border: nothing.
        assert_eq!(hypervolume_2d(&[[1.0, 0.0], [0.0, 3.0]], [1.0, 2.0]), 0.0);
        // Two steps: [0,4)x[3,4) + [2,4)x[1,3) = 4 + 4.
        assert_eq!(hypervolume_2d(&[[2.0, 1.0], [0.0, 3.0]], [4.0, 4.0]), 8.0);
        // A dominated point adds nothing.
        assert_eq!(
            hypervolume_2d(&[[2.0, 1.0], [0.0, 3.0], [3.0, 3.0]], [4.0, 4.0]),
            8.0
        );
        assert_eq!(hypervolume_2d(&[[f64::NAN, 0.0]], [4.0, 4.0]), 0.0);
    }

    /// The hypervolume of integer points counted cell by cell on the grid.
    fn brute_force(points: &[[f64; 2]], reference: [f64; 2]) -> f64 {
        let mut cells = 0;
        for x in 0..reference[0] as i64 {
            for y in 0..reference[1] as i64 {
                let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                if points.iter().any(|p| p[0] <= cx && p[1] <= cy) {
                    cells += 1;
                }
            }
        }
        cells as f64
    }

    proptest! {
        #[test]
        fn hypervolume_equals_counting_the_grid(
            raw in prop::collection::vec((0u8..25, 0u8..25), 0..30),
            rx in 1u8..26,
            ry in 1u8..26,
        ) {
            let points: Vec<[f64; 2]> = raw.iter().map(|&(x, y)| [x as f64, y as f64]).collect();
            let reference = [rx as f64, ry as f64];
            prop_assert_eq!(hypervolume_2d(&points, reference), brute_force(&points, reference));
        }

        #[test]
        fn fronts_partition_the_points_and_respect_dominance(
            raw in prop::collection::vec((0u8..10, 0u8..10, 0u8..10), 0..40),
        ) {
            let points: Vec<[f64; 3]> =
                raw.iter().map(|&(a, b, c)| [a as f64, b as f64, c as f64]).collect();
            let fronts = non_dominated_sort(&points);
            let mut rank = vec![usize::MAX; points.len()];
            for (r, f) in fronts.iter().enumerate() {
                prop_assert!(!f.is_empty());
                for &i in f {
                    prop_assert_eq!(rank[i], usize::MAX);
                    rank[i] = r;
                }
            }
            prop_assert!(rank.iter().all(|&r| r != usize::MAX));
            for i in 0..points.len() {
                for j in 0..points.len() {
                    if dominates(&points[i], &points[j]) {
                        prop_assert!(rank[i] < rank[j]);
                    }
                }
                // Every point past the first front is dominated by one a front earlier.
                if rank[i] > 0 {
                    prop_assert!(fronts[rank[i] - 1].iter().any(|&k| dominates(&points[k], &points[i])));
                }
            }
        }

        #[test]
        fn the_front_alone_has_the_whole_hypervolume(
            raw in prop::collection::vec((0u8..50, 0u8..50), 1..40),
        ) {
            let points: Vec<[f64; 2]> = raw.iter().map(|&(x, y)| [x as f64, y as f64]).collect();
            let front: Vec<[f64; 2]> = pareto_front(&points).into_iter().map(|i| points[i]).collect();
            prop_assert_eq!(hypervolume_2d(&front, [50.0, 50.0]), hypervolume_2d(&points, [50.0, 50.0]));
        }
    }
}
