//! Scores, embeddings and rankings.

use super::*;

/// Graphs per forward pass when scoring.
const SCORE_CHUNK: usize = 2048;

impl<B: AutodiffBackend> Predictor<B> {
    /// Scores of `archs` (higher = predicted better), in input order.
    pub fn score<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<f32>, PredictorError> {
        self.check_space(space)?;
        let mut out = Vec::with_capacity(archs.len());
        for chunk in archs.chunks(SCORE_CHUNK) {
            let graphs = chunk
                .iter()
                .map(|a| space.to_graph(a))
                .collect::<Result<Vec<_>, _>>()?;
            out.extend(self.score_graphs(&graphs)?);
        }
        Ok(out)
    }

    /// Scores of graphs of the predictor's space (higher = predicted better), in input order.
    /// The score depends on the graph alone, not on how its nodes are numbered. A score that
    /// is not finite is an error ([`PredictorError::NonFiniteScore`]), never a silent rank.
    pub fn score_graphs(&self, graphs: &[ArchGraph]) -> Result<Vec<f32>, PredictorError> {
        let mut out = Vec::with_capacity(graphs.len());
        match self.engine {
            Engine::Native => {
                let encoder = native::Encoder::of(&self.model);
                for chunk in graphs.chunks(SCORE_CHUNK) {
                    out.extend(encoder.score_all(&GraphBatch::from_graphs(self.shape, chunk)?));
                }
            }
            Engine::Burn => {
                let model = self.model.valid();
                for chunk in graphs.chunks(SCORE_CHUNK) {
                    let batch = GraphBatch::from_graphs(self.shape, chunk)?;
                    let emb =
                        model.embed(&BatchTensors::<B::InnerBackend>::new(&batch, &self.device));
                    let scores = model.score(emb).into_data();
                    out.extend(
                        scores
                            .to_vec::<f32>()
                            .map_err(|e| PredictorError::Format(format!("{e:?}")))?,
                    );
                }
            }
        }
        if let Some(index) = out.iter().position(|s| !s.is_finite()) {
            return Err(PredictorError::NonFiniteScore {
                index,
                value: out[index],
            });
        }
        Ok(out)
    }

    /// Graph embeddings (the encoder's output, `hidden` values each) of `archs`, in input
    /// order: what stage 1 shapes and the score head reads. Like the score, an embedding does
    /// not depend on how the graph's nodes are numbered.
    pub fn embed<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<Vec<f32>>, PredictorError> {
        let mut out = Vec::with_capacity(archs.len());
        for chunk in archs.chunks(SCORE_CHUNK) {
            let graphs = self.graphs(space, chunk)?;
            out.extend(self.embed_batch(&GraphBatch::from_graphs(self.shape, &graphs)?)?);
        }
        Ok(out)
    }

    /// Graph embeddings of an encoded batch (graphs, or augmented views pushed with
    /// [`GraphBatch::push`]) of the predictor's encoding shape.
    pub fn embed_batch(&self, batch: &GraphBatch) -> Result<Vec<Vec<f32>>, PredictorError> {
        if batch.shape() != self.shape {
            return Err(PredictorError::ShapeMismatch(format!(
                "the batch is encoded as {:?}, the predictor reads {:?}",
                batch.shape(),
                self.shape
            )));
        }
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let values = match self.engine {
            Engine::Native => native::Encoder::of(&self.model).embed_all(batch),
            Engine::Burn => {
                let model = self.model.valid();
                let emb = model.embed(&BatchTensors::<B::InnerBackend>::new(batch, &self.device));
                emb.into_data()
                    .to_vec::<f32>()
                    .map_err(|e| PredictorError::Format(format!("{e:?}")))?
            }
        };
        Ok(values
            .chunks(self.config.hidden)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Positions of `archs`, best predicted first.
    pub fn rank<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<usize>, PredictorError> {
        let s = self.score(space, archs)?;
        let mut idx: Vec<usize> = (0..s.len()).collect();
        idx.sort_by(|&i, &j| s[j].total_cmp(&s[i]).then(i.cmp(&j)));
        Ok(idx)
    }
}
