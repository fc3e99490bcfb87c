//! Stage 2: fine-tuning to rank, with burn's autodiff or the native encoder.

use super::*;

impl<B: AutodiffBackend> Predictor<B> {
    /// Stage 2: fine-tune encoder and score head on `(architecture, accuracy)` pairs so that
    /// better architectures score higher.
    pub fn finetune<S: GraphSpace>(
        &mut self,
        space: &S,
        labelled: &[(S::Arch, f64)],
        cfg: &FinetuneConfig,
    ) -> Result<TrainReport, PredictorError> {
        let start = Instant::now();
        if labelled.len() < 2 {
            return Err(PredictorError::Empty(
                "fine-tuning needs at least two labelled architectures",
            ));
        }
        cfg.validate()?;
        if let Some((index, (_, value))) = labelled
            .iter()
            .enumerate()
            .find(|(_, (_, y))| !y.is_finite())
        {
            return Err(PredictorError::NonFiniteLabel {
                index,
                value: *value,
            });
        }
        let archs: Vec<S::Arch> = labelled.iter().map(|(a, _)| a.clone()).collect();
        let graphs = self.graphs(space, &archs)?;
        let labels: Vec<f64> = labelled.iter().map(|(_, y)| *y).collect();
        self.finetune_graphs(&graphs, &labels, cfg, start)
    }

    /// The work of [`finetune`](Self::finetune) once the architectures are graphs and the
    /// input is checked (at least two finite labels, a valid `cfg`): compiled once per
    /// backend, not once per space.
    pub(super) fn finetune_graphs(
        &mut self,
        graphs: &[ArchGraph],
        labels: &[f64],
        cfg: &FinetuneConfig,
        start: Instant,
    ) -> Result<TrainReport, PredictorError> {
        // Standardised targets: the order is all the ranking losses use; MSE and the
        // Rank-N-Contrast distances want a unit scale.
        let n = labels.len() as f64;
        let mean = labels.iter().sum::<f64>() / n;
        let std = (labels.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-9);
        let targets: Vec<f32> = labels.iter().map(|y| ((y - mean) / std) as f32).collect();

        // The stage-1 term, if any, uses stage 1's default views and temperature.
        let stage1 = PretrainConfig::default();
        let aug = stage1.augmentation();
        let mut optim = AdamConfig::new()
            .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
            .init::<B, RankerModel<B>>();
        let mut model = self.model.clone();
        let mut order: Vec<usize> = (0..graphs.len()).collect();
        let mut tally = LossTally::default();
        let mut epochs_done = 0u64;
        // The plain pairwise loss needs no autodiff at all with the native engine.
        let plain_pairwise = cfg.loss == RankingLoss::Pairwise
            && cfg.target_temperature.is_none()
            && cfg.info_nce_weight == 0.0;
        let mut traces = Vec::new();
        let max_steps = cfg.max_steps.unwrap_or(usize::MAX);
        'epochs: for _ in 0..cfg.epochs {
            shuffle(&mut order, &mut self.rng);
            for chunk in order.chunks(cfg.batch_size) {
                if dcl_graph::progress::cancelled() {
                    return Err(PredictorError::Cancelled);
                }
                if chunk.len() < 2 {
                    continue;
                }
                if tally.steps >= max_steps {
                    tally.end_epoch();
                    break 'epochs;
                }
                let mut batch = GraphBatch::with_capacity(self.shape, chunk.len());
                for &i in chunk {
                    batch.push_graph(&graphs[i])?;
                }
                let y: Vec<f32> = chunk.iter().map(|&i| targets[i]).collect();
                let native = self.native_encoder(&model);
                if let (Some(encoder), true) = (&native, plain_pairwise) {
                    let value;
                    (model, value) = native_step(
                        model,
                        &mut optim,
                        (encoder, &mut traces),
                        (&batch, NativeHead::Score),
                        |s| native::loss::pairwise_logistic(s, &y, cfg.temperature),
                        (cfg.learning_rate, tally.steps),
                    )?;
                    tally.record(value);
                    continue;
                }
                let y = Tensor::<B, 1>::from_data(TensorData::new(y, [chunk.len()]), &self.device);
                let mut passes = Vec::new();
                let emb = match &native {
                    None => model.embed(&BatchTensors::new(&batch, &self.device)),
                    Some(encoder) => {
                        let pass = NativePass::new(encoder, batch, &self.device);
                        let leaf = pass.leaf.clone();
                        passes.push(pass);
                        leaf
                    }
                };
                let pairwise = |s, y| match cfg.target_temperature {
                    None => pairwise_logistic(s, y, cfg.temperature),
                    Some(t) => pairwise_logistic_soft(s, y, cfg.temperature, t),
                };
                let mut loss = match cfg.loss {
                    RankingLoss::Pairwise => pairwise(model.score(emb), y)?,
                    RankingLoss::RankNContrast { weight } => {
                        let rnc = rank_n_contrast(emb.clone(), y.clone(), cfg.rnc_temperature)?;
                        pairwise(model.score(emb), y)? + rnc.mul_scalar(weight)
                    }
                    RankingLoss::Mse => (model.score(emb) - y).powf_scalar(2.0).mean(),
                };
                if cfg.info_nce_weight > 0.0 {
                    let views = self.views(&aug, graphs, chunk)?;
                    let nce = self.view_loss(
                        &model,
                        (native.as_ref(), &mut passes),
                        views,
                        stage1.temperature,
                    )?;
                    loss = loss + nce.mul_scalar(cfg.info_nce_weight);
                }
                let value;
                (model, value) = descend(
                    model,
                    &mut optim,
                    loss,
                    (native.as_ref(), &passes),
                    cfg.learning_rate,
                    tally.steps,
                )?;
                tally.record(value);
            }
            tally.end_epoch();
            epochs_done += 1;
            dcl_graph::progress::step("finetune", epochs_done, cfg.epochs as u64);
        }
        self.model = model;
        Ok(tally.report(start))
    }
}

/// Embeddings computed by the native encoder, entering burn's autodiff as a leaf: the loss
/// and the heads run in burn, and the leaf's gradient is carried back through the encoder by
/// [`native::Encoder::backward`].
pub(super) struct NativePass<B: AutodiffBackend> {
    pub(super) batch: GraphBatch,
    pub(super) traces: Vec<native::Trace>,
    pub(super) leaf: Tensor<B, 2>,
}

impl<B: AutodiffBackend> NativePass<B> {
    pub(super) fn new(encoder: &native::Encoder, batch: GraphBatch, device: &B::Device) -> Self {
        let mut traces = Vec::new();
        let emb = encoder.embed_traced(&batch, &mut traces);
        let shape = [batch.len(), encoder.embed.d_out];
        let leaf = Tensor::from_data(TensorData::new(emb, shape), device).require_grad();
        Self {
            batch,
            traces,
            leaf,
        }
    }
}

/// One optimiser step on `loss`; returns the updated model and the loss value, or an error if
/// the loss is no longer finite. With the native engine (`native` holds the encoder the
/// `passes` ran through) the encoder's gradients come from its own backward pass.
pub(super) fn descend<B: AutodiffBackend, O: Optimizer<RankerModel<B>, B>>(
    model: RankerModel<B>,
    optim: &mut O,
    loss: Tensor<B, 1>,
    (native, passes): (Option<&native::Encoder>, &[NativePass<B>]),
    learning_rate: f64,
    step: usize,
) -> Result<(RankerModel<B>, f64), PredictorError> {
    let value = loss.clone().into_scalar().elem::<f32>();
    if !value.is_finite() {
        return Err(PredictorError::Diverged(value, step));
    }
    let mut grads = loss.backward();
    let mut encoder_grads: Option<native::Grads> = None;
    if let Some(encoder) = native {
        for pass in passes {
            let Some(d_emb) = pass.leaf.grad_remove(&mut grads) else {
                continue;
            };
            let d_emb = d_emb
                .into_data()
                .convert::<f32>()
                .into_vec::<f32>()
                .map_err(|e| PredictorError::Format(format!("{e:?}")))?;
            let g = encoder.backward(&pass.batch, &pass.traces, &d_emb);
            match &mut encoder_grads {
                None => encoder_grads = Some(g),
                Some(total) => total.add(&g),
            }
        }
    }
    let mut params = GradientsParams::from_grads(grads, &model);
    if let Some(g) = encoder_grads {
        model.register_encoder_grads(g, &mut params);
    }
    Ok((optim.step(learning_rate, model, params), f64::from(value)))
}

/// The head a native step trains through.
#[derive(Clone, Copy)]
pub(super) enum NativeHead {
    /// The score head (stage 2).
    Score,
    /// The projection head (stage 1).
    Projection,
}

/// One training step in the native kernels from end to end: the encoder over `batch`, the
/// `head`, `loss` (its value and its gradient with respect to the head's outputs), their
/// backward passes, and the update by the same Adam as every other step.
pub(super) fn native_step<B: AutodiffBackend, O: Optimizer<RankerModel<B>, B>>(
    model: RankerModel<B>,
    optim: &mut O,
    (encoder, traces): (&native::Encoder, &mut Vec<native::Trace>),
    (batch, head): (&GraphBatch, NativeHead),
    loss: impl FnOnce(&[f32]) -> (f64, Vec<f32>),
    (learning_rate, step): (f64, usize),
) -> Result<(RankerModel<B>, f64), PredictorError> {
    let (native_head, parts) = match head {
        NativeHead::Score => (&encoder.score, model.score_parts()),
        NativeHead::Projection => (&encoder.project, model.projection_parts()),
    };
    let emb = encoder.embed_traced(batch, traces);
    let (out, head_trace) = native_head.forward(&emb, batch.len(), native::Kernel::Fast);
    let (value, d_out) = loss(&out);
    if !value.is_finite() {
        return Err(PredictorError::Diverged(value as f32, step));
    }
    let (head_grads, d_emb) = native_head.backward(&emb, &head_trace, &d_out);
    let grads = encoder.backward(batch, traces, &d_emb);
    let mut params = GradientsParams::new();
    register_head_grads(parts, head_grads, &mut params);
    model.register_encoder_grads(grads, &mut params);
    Ok((optim.step(learning_rate, model, params), value))
}

/// Fisher–Yates from our RNG.
pub(super) fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}
