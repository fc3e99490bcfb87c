//! [`CellEvaluator`]: trains the network of a NAS-Bench-201 cell (or of a [`NetSpace`]
//! candidate) for real and returns its validation score, so that a search pays for each query
//! with a training run.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::backend::AutodiffBackend;
use dcl_graph::{Evaluator, Nb201Cell, Nb201Space, Objectives};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::cell::Kernels;
use crate::data::SignalData;
use crate::net::{CellNet, InputShape, NetConfig};
use crate::space::{NetArch, NetSpace};
use crate::train::{TrainConfig, TrainReport, latency_ms, train};

/// One candidate trained by a [`CellEvaluator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    /// The cell, in NAS-Bench-201 notation ([`NetArch`]'s for a [`NetSpace`] candidate: with
    /// `@stem` or `@logits` after it when the features do not enter at the head).
    pub cell: String,
    /// The fitness returned: 100 × the monitored validation metric.
    pub fitness: f64,
    /// The training run.
    pub report: TrainReport,
    /// The trained network's parameter count, when the evaluator measures objectives
    /// ([`CellEvaluator::with_objectives`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<u64>,
    /// Its measured inference latency per sample in milliseconds ([`latency_ms`]), when the
    /// evaluator measures objectives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

impl CandidateRecord {
    /// The objectives measured with the fitness: `params` and `latency_ms`, those present.
    pub fn objectives(&self) -> Objectives {
        let mut o = Objectives::new();
        if let Some(p) = self.params {
            o.insert(PARAMS.to_owned(), p as f64);
        }
        if let Some(l) = self.latency_ms {
            o.insert(LATENCY_MS.to_owned(), l);
        }
        o
    }
}

/// The name of the parameter-count objective.
pub const PARAMS: &str = "params";
/// The name of the measured-latency objective (milliseconds per sample).
pub const LATENCY_MS: &str = "latency_ms";
/// Timed single-sample passes per latency measurement.
const LATENCY_REPEATS: usize = 21;

/// Truly evaluates NAS-Bench-201 cells read as 1-D cells: builds a [`CellNet`], trains it with
/// [`train`] on the training data, returns 100 × the monitored metric on the validation data.
/// Every candidate starts from the same initial-weight seed, so they differ by architecture only.
///
/// ```
/// use dcl_graph::{Evaluator, Nb201Space};
/// use dcl_train::{CellEvaluator, Kernels, NdArrayBackend, NetConfig, SignalData, TrainConfig};
///
/// // Two classes of 16-sample signals: a bump up or a bump down.
/// let data = |n: usize| {
///     let mut d = SignalData { length: 16, n_classes: 2, ..SignalData::default() };
///     for i in 0..n {
///         let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
///         d.signals.extend((0..16).map(|t| sign * (-((t as f32 - 8.0) / 3.0).powi(2)).exp()));
///         d.labels.push((i % 2) as u8);
///     }
///     d
/// };
/// let net = NetConfig { channels: 4, stages: 1, ..NetConfig::default() };
/// let config = TrainConfig { epochs: 1, batch_size: 8, ..TrainConfig::default() };
/// let mut evaluator = CellEvaluator::<NdArrayBackend>::new(
///     data(32), data(16), net, Kernels::default(), config, Default::default(),
/// )
/// .unwrap();
/// let cell = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
///     .parse()
///     .unwrap();
/// let fitness = evaluator.evaluate(&Nb201Space::new(), &cell).unwrap();
/// assert!((0.0..=100.0).contains(&fitness));
/// assert_eq!(evaluator.log().len(), 1);
/// ```
pub struct CellEvaluator<B: AutodiffBackend> {
    train: SignalData,
    valid: SignalData,
    net: NetConfig,
    kernels: Kernels,
    config: TrainConfig,
    device: B::Device,
    verbose: bool,
    objectives: bool,
    log: Vec<CandidateRecord>,
}

impl<B: AutodiffBackend> CellEvaluator<B> {
    /// An evaluator over this data and these settings. Fails on invalid data.
    pub fn new(
        train: SignalData,
        valid: SignalData,
        net: NetConfig,
        kernels: Kernels,
        config: TrainConfig,
        device: B::Device,
    ) -> Result<Self, TrainError> {
        train.validate()?;
        valid.validate()?;
        Ok(Self {
            train,
            valid,
            net,
            kernels,
            config,
            device,
            verbose: false,
            objectives: false,
            log: Vec::new(),
        })
    }

    /// Log one line per trained candidate (a `tracing` info event).
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// Also measure each trained network's parameter count and its inference latency per
    /// sample on the evaluator's device (the median of 21 single-sample passes over the first
    /// validation sample), returned by
    /// [`evaluate_with_objectives`](Evaluator::evaluate_with_objectives) as `params` and
    /// `latency_ms` and kept in the records. Off by default: the latency is a wall-clock
    /// measurement, which differs from run to run.
    pub fn with_objectives(mut self, on: bool) -> Self {
        self.objectives = on;
        self
    }

    /// Every candidate trained so far, in order.
    pub fn log(&self) -> &[CandidateRecord] {
        &self.log
    }

    /// Seconds spent training, over all candidates.
    pub fn seconds(&self) -> f64 {
        self.log.iter().map(|r| r.report.seconds).sum()
    }

    /// Builds and trains one cell's network (with the evaluator's [`NetConfig`]), returning the
    /// record (also kept in the log).
    pub fn train_cell(&mut self, cell: &Nb201Cell) -> Result<CandidateRecord, TrainError> {
        let arch = NetArch::with_entry(*cell, self.net.features);
        self.train_arch(&arch)
    }

    /// Builds and trains one candidate's network: the evaluator's [`NetConfig`] and
    /// [`Kernels`] with the candidate's feature entry and skeleton ([`NetArch::net_config`],
    /// [`NetArch::spec`]). Returns the record (also kept in the log).
    pub fn train_arch(&mut self, arch: &NetArch) -> Result<CandidateRecord, TrainError> {
        let start = Instant::now();
        let spec = arch.spec(self.kernels);
        let shape = InputShape::of(&self.train);
        let net = arch.net_config(&self.net);
        let model = CellNet::<B>::new(&spec, &net, shape, self.config.seed, &self.device)?;
        let trained = train(
            model,
            &self.train,
            &self.valid,
            &self.config,
            &self.device,
            &mut |_| {},
        )?;
        let fitness = 100.0 * self.config.monitor.value(&trained.report.valid);
        let (params, latency) = if self.objectives {
            (
                Some(trained.model.num_params() as u64),
                Some(latency_ms(
                    &trained.model,
                    &self.valid,
                    LATENCY_REPEATS,
                    &self.device,
                    trained.report.engine,
                )?),
            )
        } else {
            (None, None)
        };
        let record = CandidateRecord {
            cell: arch.to_string(),
            fitness,
            report: trained.report,
            params,
            latency_ms: latency,
        };
        if self.verbose {
            tracing::info!(
                "trained #{:<3} {} fitness={:.2} best_epoch={} {:.1}s",
                self.log.len() + 1,
                record.cell,
                fitness,
                record.report.best_epoch,
                start.elapsed().as_secs_f64()
            );
        }
        self.log.push(record.clone());
        Ok(record)
    }
}

impl<B: AutodiffBackend> Evaluator<Nb201Space> for CellEvaluator<B> {
    type Error = TrainError;

    fn evaluate(&mut self, _space: &Nb201Space, arch: &Nb201Cell) -> Result<f64, TrainError> {
        Ok(self.train_cell(arch)?.fitness)
    }

    fn evaluate_with_objectives(
        &mut self,
        _space: &Nb201Space,
        arch: &Nb201Cell,
    ) -> Result<(f64, Objectives), TrainError> {
        let r = self.train_cell(arch)?;
        Ok((r.fitness, r.objectives()))
    }
}

impl<B: AutodiffBackend> Evaluator<NetSpace> for CellEvaluator<B> {
    type Error = TrainError;

    fn evaluate(&mut self, _space: &NetSpace, arch: &NetArch) -> Result<f64, TrainError> {
        Ok(self.train_arch(arch)?.fitness)
    }

    fn evaluate_with_objectives(
        &mut self,
        _space: &NetSpace,
        arch: &NetArch,
    ) -> Result<(f64, Objectives), TrainError> {
        let r = self.train_arch(arch)?;
        Ok((r.fitness, r.objectives()))
    }
}
