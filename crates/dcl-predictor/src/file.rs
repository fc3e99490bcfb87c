//! The saved-predictor file: a magic line, a JSON header (format, space, encoding shape, model
//! shape), then the weights as a burn record (named MessagePack).
//!
//! Reading never hands the weights to burn's record loader, which trusts them: a tensor of the
//! wrong rank or length panics inside burn, and a header's model shape would be allocated before
//! the weights are looked at. Instead the record is read into [`SavedModel`], a mirror of the
//! record's named layout holding plain tensor data, and every tensor's shape, element type,
//! byte length and values are checked against the header before a model is built from them.

use burn::backend::NdArray;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::{DType, TensorData};
use dcl_graph::EncodingShape;
use serde::{Deserialize, Serialize};

use crate::PredictorError;
use crate::model::ModelConfig;

/// First bytes of every saved predictor.
pub(crate) const MAGIC: &[u8] = b"DCLPRED\n";
/// Version of the header and record layout.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Largest width (hidden or projection) a file may ask for; far above any useful predictor, and
/// low enough that a hostile header cannot make the reader allocate without bound.
pub(crate) const MAX_WIDTH: usize = 4096;
/// Largest number of message-passing layers a file may ask for.
pub(crate) const MAX_LAYERS: usize = 64;

/// The JSON header.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    pub format: u32,
    pub space: String,
    pub shape: EncodingShape,
    pub model: ModelConfig,
    /// Where the weights come from; optional (`None`: unknown, and such a file is never
    /// reused as a pre-training cache).
    #[serde(default)]
    pub lineage: Option<crate::predictor::Lineage>,
}

/// Mirror of burn's record wrapper: metadata (not needed to read), then the model.
#[derive(Deserialize)]
struct SavedRecord {
    item: SavedModel,
}

/// Mirror of `RankerModel`'s record.
#[derive(Debug, Deserialize)]
pub(crate) struct SavedModel {
    pub encoder: SavedEncoder,
    pub proj1: SavedLinear,
    pub proj2: SavedLinear,
    pub score1: SavedLinear,
    pub score2: SavedLinear,
}

/// Mirror of `GinEncoder`'s record.
#[derive(Debug, Deserialize)]
pub(crate) struct SavedEncoder {
    pub embed: SavedLinear,
    pub layers: Vec<SavedLayer>,
    pub readout: SavedLinear,
}

/// Mirror of `GinLayer`'s record.
#[derive(Debug, Deserialize)]
pub(crate) struct SavedLayer {
    pub lin1: SavedLinear,
    pub lin2: SavedLinear,
}

/// Mirror of burn's `Linear` record.
#[derive(Debug, Deserialize)]
pub(crate) struct SavedLinear {
    pub weight: SavedParam,
    pub bias: Option<SavedParam>,
}

/// Mirror of burn's parameter record: an id and the tensor data.
#[derive(Debug, Deserialize)]
pub(crate) struct SavedParam {
    param: TensorData,
}

/// A checked linear layer: `weight` is `[d_in, d_out]` row-major, `bias` is `[d_out]`.
pub(crate) struct LinearWeights {
    pub d_in: usize,
    pub d_out: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Every layer of a model, checked against its [`ModelConfig`], in `RankerModel` order.
pub(crate) struct ModelWeights {
    pub embed: LinearWeights,
    pub layers: Vec<(LinearWeights, LinearWeights)>,
    pub readout: LinearWeights,
    pub proj1: LinearWeights,
    pub proj2: LinearWeights,
    pub score1: LinearWeights,
    pub score2: LinearWeights,
}

impl LinearWeights {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "d_in": self.d_in,
            "d_out": self.d_out,
            "weight": self.weight,
            "bias": self.bias,
        })
    }
}

impl ModelWeights {
    /// The layout [`Predictor::export_weights`](crate::Predictor::export_weights) documents.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let (lin1, lin2): (Vec<_>, Vec<_>) = self
            .layers
            .iter()
            .map(|(a, b)| (a.to_json(), b.to_json()))
            .unzip();
        serde_json::json!({
            "embed": self.embed.to_json(),
            "lin1": lin1,
            "lin2": lin2,
            "readout": self.readout.to_json(),
            "proj1": self.proj1.to_json(),
            "proj2": self.proj2.to_json(),
            "score1": self.score1.to_json(),
            "score2": self.score2.to_json(),
        })
    }
}

fn format_error(msg: impl Into<String>) -> PredictorError {
    PredictorError::Format(msg.into())
}

/// Splits a file into its checked header and its unchecked record bytes.
pub(crate) fn split(bytes: &[u8]) -> Result<(Header, &[u8]), PredictorError> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| format_error("missing the dcl-predictor header"))?;
    let (len, body) = body
        .split_first_chunk::<4>()
        .ok_or_else(|| format_error("truncated header"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if body.len() < len {
        return Err(format_error("truncated header"));
    }
    let (header, record) = body.split_at(len);
    let header: Header = serde_json::from_slice(header).map_err(|e| format_error(e.to_string()))?;
    if header.format != FORMAT_VERSION {
        return Err(format_error(format!(
            "unknown format version {}",
            header.format
        )));
    }
    let m = header.model;
    if !(1..=MAX_WIDTH).contains(&m.hidden)
        || !(1..=MAX_LAYERS).contains(&m.layers)
        || !(1..=MAX_WIDTH).contains(&m.projection)
    {
        return Err(format_error(format!(
            "the header's model shape {m:?} is out of range (widths 1..={MAX_WIDTH}, layers 1..={MAX_LAYERS})"
        )));
    }
    Ok((header, record))
}

/// Reads the record bytes and checks every tensor against `model` for node features of width
/// `features`: the layer count, each shape, the element type, the byte length, and that every
/// weight is finite.
pub(crate) fn read_weights(
    record: &[u8],
    features: usize,
    model: ModelConfig,
) -> Result<ModelWeights, PredictorError> {
    // The recorder reads plain serde items whatever the backend; NdArray only names one.
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    let saved: SavedRecord = Recorder::<NdArray>::load_item(&recorder, &mut record.to_vec())
        .map_err(|e| format_error(format!("unreadable weights: {e}")))?;
    let m = saved.item;
    let h = model.hidden;
    if m.encoder.layers.len() != model.layers {
        return Err(PredictorError::ShapeMismatch(format!(
            "the header reads {} message-passing layers, the weights hold {}",
            model.layers,
            m.encoder.layers.len()
        )));
    }
    let layers = m
        .encoder
        .layers
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            Ok((
                check(l.lin1, &format!("layers[{i}].lin1"), 3 * h, h)?,
                check(l.lin2, &format!("layers[{i}].lin2"), h, h)?,
            ))
        })
        .collect::<Result<Vec<_>, PredictorError>>()?;
    Ok(ModelWeights {
        embed: check(m.encoder.embed, "embed", features, h)?,
        layers,
        readout: check(m.encoder.readout, "readout", h * (model.layers + 1), h)?,
        proj1: check(m.proj1, "proj1", h, h)?,
        proj2: check(m.proj2, "proj2", h, model.projection)?,
        score1: check(m.score1, "score1", h, h)?,
        score2: check(m.score2, "score2", h, 1)?,
    })
}

fn check(
    linear: SavedLinear,
    name: &str,
    d_in: usize,
    d_out: usize,
) -> Result<LinearWeights, PredictorError> {
    let bias = linear
        .bias
        .ok_or_else(|| format_error(format!("{name} has no bias")))?;
    Ok(LinearWeights {
        d_in,
        d_out,
        weight: values(
            linear.weight.param,
            &format!("{name}.weight"),
            &[d_in, d_out],
        )?,
        bias: values(bias.param, &format!("{name}.bias"), &[d_out])?,
    })
}

fn values(data: TensorData, name: &str, shape: &[usize]) -> Result<Vec<f32>, PredictorError> {
    if data.shape.as_slice() != shape {
        return Err(PredictorError::ShapeMismatch(format!(
            "{name} is {:?} in the file, the header's model needs {shape:?}",
            data.shape.as_slice()
        )));
    }
    if data.dtype != DType::F32 {
        return Err(format_error(format!(
            "{name} holds {:?}, not f32",
            data.dtype
        )));
    }
    let n: usize = shape.iter().product();
    let bytes: &[u8] = &data.bytes;
    if bytes.len() != n * 4 {
        return Err(format_error(format!(
            "{name} holds {} bytes for {n} values",
            bytes.len()
        )));
    }
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format_error(format!(
            "{name}[{i}] is {}: a predictor with non-finite weights would score NaN",
            v[i]
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RankerModel;
    use crate::{CpuBackend, Nb201Space, Predictor};
    use burn::module::Module;

    /// A complete file holding `model` under a header for NB201 with shape `cfg`.
    fn file_with(model: RankerModel<CpuBackend>, cfg: ModelConfig) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            format: FORMAT_VERSION,
            space: crate::SearchSpace::name(&Nb201Space::new()).to_owned(),
            shape: EncodingShape::of(&Nb201Space::new()),
            model: cfg,
            lineage: None,
        })
        .unwrap();
        let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
            .record(model.into_record(), ())
            .unwrap();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&record);
        bytes
    }

    fn weights(cfg: ModelConfig, features: usize, value: impl Fn(usize) -> f32) -> ModelWeights {
        let mut k = 0;
        let mut lin = |d_in: usize, d_out: usize| {
            let mut next = || {
                k += 1;
                value(k)
            };
            LinearWeights {
                d_in,
                d_out,
                weight: (0..d_in * d_out).map(|_| next()).collect(),
                bias: (0..d_out).map(|_| next()).collect(),
            }
        };
        let h = cfg.hidden;
        ModelWeights {
            embed: lin(features, h),
            layers: (0..cfg.layers)
                .map(|_| (lin(3 * h, h), lin(h, h)))
                .collect(),
            readout: lin(h * (cfg.layers + 1), h),
            proj1: lin(h, h),
            proj2: lin(h, cfg.projection),
            score1: lin(h, h),
            score2: lin(h, 1),
        }
    }

    fn load(bytes: &[u8]) -> Result<Predictor, PredictorError> {
        let path = std::env::temp_dir().join(format!(
            "dcl-predictor-file-{}-{:?}.dclpred",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, bytes).unwrap();
        let r = Predictor::load(&path, &Nb201Space::new(), Default::default());
        std::fs::remove_file(&path).unwrap();
        r
    }

    const CFG: ModelConfig = ModelConfig {
        hidden: 4,
        layers: 2,
        projection: 3,
    };

    #[test]
    fn weights_written_by_burn_read_back_exactly_through_the_mirror() {
        let features = EncodingShape::of(&Nb201Space::new()).feature_dim();
        let value = |k: usize| (k as f32 * 0.37).sin();
        let model = RankerModel::<CpuBackend>::from_weights(
            weights(CFG, features, value),
            &Default::default(),
        );
        let bytes = file_with(model, CFG);
        let (header, record) = split(&bytes).unwrap();
        let back = read_weights(record, features, header.model).unwrap();
        let expected = weights(CFG, features, value);
        assert_eq!(back.embed.weight, expected.embed.weight);
        assert_eq!(back.layers[1].0.bias, expected.layers[1].0.bias);
        assert_eq!(back.score2.weight, expected.score2.weight);
        assert!(load(&bytes).is_ok());
    }

    #[test]
    fn non_finite_weights_are_refused_with_the_tensor_named() {
        let features = EncodingShape::of(&Nb201Space::new()).feature_dim();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            // One non-finite value, deep inside the second GIN layer's first linear layer.
            let mut w = weights(CFG, features, |_| 0.1);
            w.layers[1].0.weight[5] = bad;
            let model = RankerModel::<CpuBackend>::from_weights(w, &Default::default());
            let r = load(&file_with(model, CFG));
            assert!(
                matches!(&r, Err(PredictorError::Format(m)) if m.contains("layers[1].lin1.weight[5]")),
                "{bad}: {r:?}"
            );
        }
    }

    #[test]
    fn finite_weights_that_overflow_give_a_typed_error_when_scoring() {
        let features = EncodingShape::of(&Nb201Space::new()).feature_dim();
        let model = RankerModel::<CpuBackend>::from_weights(
            weights(CFG, features, |_| 1e30),
            &Default::default(),
        );
        let p = load(&file_with(model, CFG)).unwrap();
        let space = Nb201Space::new();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let cell = crate::SearchSpace::sample(&space, &mut rng);
        assert!(matches!(
            p.score(&space, &[cell]),
            Err(PredictorError::NonFiniteScore { index: 0, .. })
        ));
    }
}
