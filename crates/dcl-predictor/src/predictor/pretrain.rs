//! Stage 1: label-free contrastive pre-training, and the cache of pre-trained encoders.

use super::*;

impl<B: AutodiffBackend> Predictor<B> {
    /// Stage 1: InfoNCE between two augmented views of every architecture, no labels needed.
    pub fn pretrain<S: GraphSpace>(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        cfg: &PretrainConfig,
    ) -> Result<TrainReport, PredictorError> {
        let start = Instant::now();
        if archs.len() < 2 {
            return Err(PredictorError::Empty(
                "pre-training needs at least two architectures",
            ));
        }
        cfg.validate()?;
        let graphs = self.graphs(space, archs)?;
        let record = PretrainRecord {
            config: cfg.clone(),
            architectures: archs.len(),
            digest: digest(space, archs),
            rng_seed: self.rng_seed,
            engine: self.training,
        };
        self.pretrain_graphs(&graphs, record, start)
    }

    /// The work of [`pretrain`](Self::pretrain) once the architectures are graphs (checked
    /// for the space) and `record` says what it is: kept apart from the space's type so that
    /// it is compiled once per backend, not once per space.
    pub(super) fn pretrain_graphs(
        &mut self,
        graphs: &[ArchGraph],
        record: PretrainRecord,
        start: Instant,
    ) -> Result<TrainReport, PredictorError> {
        let cfg = &record.config;
        let aug = cfg.augmentation();
        let mut optim = AdamConfig::new().init::<B, RankerModel<B>>();
        let mut model = self.model.clone();
        let mut order: Vec<usize> = (0..graphs.len()).collect();
        let mut tally = LossTally::default();
        let max_steps = cfg.max_steps.unwrap_or(usize::MAX);
        let per_epoch = order
            .chunks(cfg.batch_size)
            .filter(|c| c.len() >= 2)
            .count();
        let total_steps = per_epoch.saturating_mul(cfg.epochs).min(max_steps) as u64;
        // The native engine's forward-pass buffers, reused from step to step.
        let mut traces = Vec::new();
        'epochs: for _ in 0..cfg.epochs {
            shuffle(&mut order, &mut self.rng);
            for chunk in order.chunks(cfg.batch_size) {
                if chunk.len() < 2 {
                    continue;
                }
                if tally.steps >= max_steps {
                    // Report the partial epoch rather than nothing.
                    tally.end_epoch();
                    break 'epochs;
                }
                let (v1, v2) = self.views(&aug, graphs, chunk)?;
                let value;
                (model, value) = match self.native_encoder(&model) {
                    Some(encoder) => {
                        // Both views in one pass: rows `i` and `i + n` are siblings.
                        let (mut batch, n) = (v1, chunk.len());
                        batch.extend_from(&v2)?;
                        let width = encoder.project.second.d_out;
                        native_step(
                            model,
                            &mut optim,
                            (&encoder, &mut traces),
                            (&batch, NativeHead::Projection),
                            |z| native::loss::info_nce(z, n, width, cfg.temperature),
                            (cfg.learning_rate, tally.steps),
                        )?
                    }
                    None => {
                        let loss = self.view_loss(
                            &model,
                            (None, &mut Vec::new()),
                            (v1, v2),
                            cfg.temperature,
                        )?;
                        descend(
                            model,
                            &mut optim,
                            loss,
                            (None, &[]),
                            cfg.learning_rate,
                            tally.steps,
                        )?
                    }
                };
                tally.record(value);
                dcl_graph::progress::step("pretrain", tally.steps as u64, total_steps);
                if dcl_graph::progress::cancelled() {
                    return Err(PredictorError::Cancelled);
                }
            }
            tally.end_epoch();
        }
        self.model = model;
        let report = tally.report(start);
        self.lineage.pretraining.push(record);
        Ok(report)
    }

    /// Two augmented views of the graphs `chunk` points at, drawn view by view per graph.
    pub(super) fn views(
        &mut self,
        aug: &Compose,
        graphs: &[ArchGraph],
        chunk: &[usize],
    ) -> Result<(GraphBatch, GraphBatch), PredictorError> {
        let mut v1 = GraphBatch::with_capacity(self.shape, chunk.len());
        let mut v2 = GraphBatch::with_capacity(self.shape, chunk.len());
        for &i in chunk {
            v1.push(&aug.augment(&graphs[i], &mut self.rng))?;
            v2.push(&aug.augment(&graphs[i], &mut self.rng))?;
        }
        Ok((v1, v2))
    }

    /// InfoNCE between two views through burn's projection head and loss. With the native
    /// engine both views go through the encoder in one pass, recorded in `passes` for the
    /// backward.
    pub(super) fn view_loss(
        &self,
        model: &RankerModel<B>,
        (native, passes): (Option<&native::Encoder>, &mut Vec<NativePass<B>>),
        (mut v1, v2): (GraphBatch, GraphBatch),
        temperature: f64,
    ) -> Result<Tensor<B, 1>, PredictorError> {
        let Some(encoder) = native else {
            let z1 = model.project(model.embed(&BatchTensors::new(&v1, &self.device)));
            let z2 = model.project(model.embed(&BatchTensors::new(&v2, &self.device)));
            return Ok(info_nce(z1, z2, temperature)?);
        };
        let n = v1.len();
        v1.extend_from(&v2)?;
        let pass = NativePass::new(encoder, v1, &self.device);
        let z = model.project(pass.leaf.clone());
        passes.push(pass);
        let z1 = z.clone().narrow(0, 0, n);
        let z2 = z.narrow(0, n, n);
        Ok(info_nce(z1, z2, temperature)?)
    }

    /// Stage 1 with a cache: when `path` holds an encoder whose [`Lineage`] and model are
    /// exactly what pre-training this predictor on `archs` with `config` would give, it is
    /// loaded in place of this one and `Ok(None)` returned; when `path` does not exist (or
    /// holds a damaged file), this predictor is pre-trained, saved there (atomically), and
    /// its report returned. An encoder made another way (other settings, seed, model,
    /// number of architectures, or of unknown lineage) is refused with
    /// [`PredictorError::CacheMismatch`] naming the first difference: a cache is never
    /// silently reused for a run it does not belong to.
    ///
    /// A loaded encoder's random stream restarts from seed 0: [`fork`](Self::fork) it before
    /// training further, as [`PredictorSurrogate`](crate::PredictorSurrogate) and
    /// [`Ensemble`](crate::Ensemble) do.
    pub fn pretrain_cached<S: GraphSpace>(
        &mut self,
        path: impl AsRef<Path>,
        space: &S,
        archs: &[S::Arch],
        config: &PretrainConfig,
    ) -> Result<Option<TrainReport>, PredictorError> {
        let path = path.as_ref();
        let mut expected = self.lineage.clone();
        expected.pretraining.push(PretrainRecord {
            config: config.clone(),
            architectures: archs.len(),
            digest: digest(space, archs),
            rng_seed: self.rng_seed,
            engine: self.training,
        });
        if path.exists() {
            match Self::load(path, space, self.device.clone()) {
                Ok(cached) => {
                    let found =
                        serde_json::json!({"model": cached.config, "lineage": cached.lineage});
                    let wanted = serde_json::json!({"model": self.config, "lineage": expected});
                    if let Some((at, file, run)) = dcl_graph::io::first_difference(&found, &wanted)
                    {
                        return Err(PredictorError::CacheMismatch {
                            path: path.display().to_string(),
                            field: format!("{at} (the file has {file}, this run wants {run})"),
                        });
                    }
                    let (engine, training) = (self.engine, self.training);
                    *self = cached;
                    self.engine = engine;
                    self.training = training;
                    return Ok(None);
                }
                Err(PredictorError::Format(why)) => {
                    tracing::warn!(
                        "{} does not read as a predictor ({why}): pre-training it again",
                        path.display()
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let report = self.pretrain(space, archs, config)?;
        self.save(path)?;
        Ok(Some(report))
    }
}
