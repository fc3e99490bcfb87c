//! Saving, loading and exporting a predictor.

use super::*;

impl<B: AutodiffBackend> Predictor<B> {
    /// The weights as plain JSON, for reading the model into another framework (the PyTorch
    /// mirror of `benches/predictor_torch.py` does). Every linear layer is
    /// `{"d_in", "d_out", "weight", "bias"}` with `weight` the `[d_in, d_out]` matrix in
    /// row-major order (`y = x W + b`); the object holds `embed`, `lin1` and `lin2` (one entry
    /// per message-passing layer: `lin1` reads `[h, Σ_pred h, Σ_succ h]`), `readout` (reads the
    /// concatenated masked means of the embedding and of every layer), `score1`, `score2`,
    /// `proj1` and `proj2` (each head applies ReLU before each of its layers).
    ///
    /// ```
    /// use dcl_predictor::{ModelConfig, Nb201Space, Predictor};
    /// let p: Predictor = Predictor::new(&Nb201Space::new(), ModelConfig::default(), 0).unwrap();
    /// let w = p.export_weights().unwrap();
    /// assert_eq!(w["lin1"].as_array().unwrap().len(), 4);
    /// assert_eq!(w["lin1"][0]["d_in"], 3 * 64);
    /// assert_eq!(w["score2"]["weight"].as_array().unwrap().len(), 64);
    /// ```
    pub fn export_weights(&self) -> Result<serde_json::Value, PredictorError> {
        let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
            .record(self.model.clone().into_record(), ())
            .map_err(|e| PredictorError::Format(e.to_string()))?;
        let weights = file::read_weights(&record, self.shape.feature_dim(), self.config)?;
        Ok(weights.to_json())
    }

    /// Saves the predictor atomically (temporary file, fsync, rename): a header naming its
    /// space and shapes, then the weights as a burn record (named MessagePack).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PredictorError> {
        let path = path.as_ref();
        let io = |source| PredictorError::Io {
            path: path.display().to_string(),
            source,
        };
        let header = serde_json::to_vec(&Header {
            format: FORMAT_VERSION,
            space: self.space.clone(),
            shape: self.shape,
            model: self.config,
            lineage: Some(self.lineage.clone()),
        })
        .map_err(|e| PredictorError::Format(e.to_string()))?;
        let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
            .record(self.model.clone().into_record(), ())
            .map_err(|e| PredictorError::Format(e.to_string()))?;
        let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + record.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&record);
        // Atomically: an interrupted save leaves the old file (or none), never a torn one.
        dcl_graph::io::write_atomic(path, &bytes).map_err(io)
    }

    /// Loads a predictor saved by [`save`](Self::save) for use with `space`.
    ///
    /// A file for another space or encoding shape, a header whose model shape disagrees with
    /// the stored weights (or asks for widths over 4096 or more than 64 layers), a damaged
    /// record, and non-finite weights are all refused with a typed error, before any model is
    /// built from the header.
    pub fn load<S: GraphSpace>(
        path: impl AsRef<Path>,
        space: &S,
        device: B::Device,
    ) -> Result<Self, PredictorError> {
        Self::load_for(
            path.as_ref(),
            space.name(),
            EncodingShape::of(space),
            device,
        )
    }

    /// [`load`](Self::load) for a space known by its name and encoding shape.
    pub(super) fn load_for(
        path: &Path,
        space: &str,
        shape: EncodingShape,
        device: B::Device,
    ) -> Result<Self, PredictorError> {
        let bytes = std::fs::read(path).map_err(|source| PredictorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let (header, record) = file::split(&bytes)?;
        if header.space != space {
            return Err(PredictorError::SpaceMismatch {
                expected: header.space,
                found: space.to_owned(),
            });
        }
        if header.shape != shape {
            return Err(PredictorError::ShapeMismatch(format!(
                "the file reads {:?}, the space gives {:?}",
                header.shape, shape
            )));
        }
        let weights = file::read_weights(record, shape.feature_dim(), header.model)?;
        // Built straight from the checked weights: no random model to throw away first.
        Ok(Self {
            model: RankerModel::from_weights(weights, &device),
            config: header.model,
            space: header.space,
            shape,
            device,
            rng: ChaCha8Rng::seed_from_u64(0),
            lineage: header.lineage.unwrap_or(Lineage {
                init_seed: None,
                pretraining: Vec::new(),
            }),
            rng_seed: 0,
            engine: Engine::default(),
            training: Engine::default(),
        })
    }
}
