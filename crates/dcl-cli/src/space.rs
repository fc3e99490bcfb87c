//! The `space` setting of `search`: a preset with a table (`"nb201"`, `"nb101"`) or a space
//! declared in the config file (`[space] kind = "cell"`), and the architectures stage 1
//! pre-trains on.

use std::fmt;

use dcl_graph::{CellSpace, DagSpace, GraphSpace, Nb101Space, Nb201Space, SearchSpace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::search::SpaceName;
use crate::{CliError, invalid};

/// The space a search runs on: a preset by name, or a space declared in the config file.
///
/// ```toml
/// space = "nb201"            # a preset
///
/// [space]                    # or a space of your own: NAS-Bench-201-style cells
/// kind = "cell"
/// name = "digits-cell"       # the journal's name of the space [default: the kind]
/// nodes = 4                  # feature maps per cell, the input included
/// ops = ["none", "skip", "conv3", "conv1", "maxpool"]
///
/// [space]                    # or NAS-Bench-101-style DAGs
/// kind = "dag"
/// nodes = 7                  # most vertices, input and output included
/// max_edges = 9
/// ops = ["conv3", "conv1", "maxpool"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SpaceSetting {
    /// A preset space (with its table, unless an `[evaluator]` is given).
    Preset(SpaceName),
    /// A space declared in the config file.
    Declared(DeclaredSpace),
}

impl From<SpaceName> for SpaceSetting {
    fn from(name: SpaceName) -> Self {
        SpaceSetting::Preset(name)
    }
}

/// Work done on the space a [`SpaceSetting`] names, whichever type that space has
/// ([`SpaceSetting::with_space`]).
pub trait WithSpace {
    /// What the work gives.
    type Output;
    /// Does the work on `space`.
    fn run<S>(self, space: &S) -> Self::Output
    where
        S: GraphSpace + Sync,
        S::Arch: Serialize + DeserializeOwned + Send + Sync;
}

impl SpaceSetting {
    /// Builds the space this setting names and does `work` on it: the one place a setting
    /// becomes a space (a declaration is checked on the way; the error names the key).
    pub fn with_space<W: WithSpace>(&self, work: W) -> Result<W::Output, CliError> {
        Ok(match self {
            SpaceSetting::Preset(SpaceName::Nb201) => work.run(&Nb201Space::new()),
            SpaceSetting::Preset(SpaceName::Nb101) => work.run(&Nb101Space::new()),
            SpaceSetting::Declared(d) => match d.kind {
                SpaceKind::Cell => work.run(&d.cell_space()?),
                SpaceKind::Dag => work.run(&d.dag_space()?),
            },
        })
    }

    /// The space's name, as journals record it.
    pub fn name(&self) -> &str {
        match self {
            SpaceSetting::Preset(p) => p.name(),
            SpaceSetting::Declared(d) => d.name(),
        }
    }
}

/// How a declared space is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpaceKind {
    /// NAS-Bench-201-style cells ([`CellSpace`]): every pair of nodes `i < j` joined by an
    /// edge carrying one op; `none` removes the edge, `skip` is the identity.
    Cell,
    /// NAS-Bench-101-style DAGs ([`DagSpace`]): up to `nodes` vertices and `max_edges` edges,
    /// each intermediate vertex carrying one op.
    Dag,
}

impl SpaceKind {
    /// The kind's name in config files.
    pub fn name(self) -> &'static str {
        match self {
            SpaceKind::Cell => "cell",
            SpaceKind::Dag => "dag",
        }
    }
}

/// A `[space]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredSpace {
    /// How the space is built.
    pub kind: SpaceKind,
    /// The space's name in journals, summaries and specs [default: the kind's name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `cell`: feature maps per cell, the input included; `dag`: most vertices, input and
    /// output included.
    pub nodes: usize,
    /// `dag` only: most edges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_edges: Option<usize>,
    /// The op names.
    pub ops: Vec<String>,
}

impl DeclaredSpace {
    /// The space's name: `name`, else the kind's.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.name())
    }

    /// The cell space this table declares (`kind = "cell"`); the error names the key.
    pub fn cell_space(&self) -> Result<CellSpace, CliError> {
        let located = |e: String| invalid(format!("key `space` ([space] kind = \"cell\"): {e}"));
        if self.kind != SpaceKind::Cell {
            return Err(located(format!(
                "the space is kind = \"{}\"",
                self.kind.name()
            )));
        }
        if self.max_edges.is_some() {
            return Err(invalid(
                "key `space.max_edges` is for kind = \"dag\": a cell has every edge".into(),
            ));
        }
        CellSpace::new(self.name(), self.nodes, &self.ops).map_err(|e| located(e.to_string()))
    }

    /// The DAG space this table declares (`kind = "dag"`); the error names the key.
    pub fn dag_space(&self) -> Result<DagSpace, CliError> {
        let located = |e: String| invalid(format!("key `space` ([space] kind = \"dag\"): {e}"));
        if self.kind != SpaceKind::Dag {
            return Err(located(format!(
                "the space is kind = \"{}\"",
                self.kind.name()
            )));
        }
        let max_edges = self.max_edges.ok_or_else(|| {
            invalid("key `space.max_edges`: a kind = \"dag\" space needs its edge limit".into())
        })?;
        DagSpace::new(self.name(), self.nodes, max_edges, &self.ops)
            .map_err(|e| located(e.to_string()))
    }

    /// Checks the table by building its space.
    pub fn validate(&self) -> Result<(), CliError> {
        match self.kind {
            SpaceKind::Cell => self.cell_space().map(|_| ()),
            SpaceKind::Dag => self.dag_space().map(|_| ()),
        }
    }

    /// How many architectures the space holds; `None` past `usize`, or for a DAG space
    /// (counting its isomorphism classes means listing them).
    pub fn size(&self) -> Result<Option<usize>, CliError> {
        match self.kind {
            SpaceKind::Cell => Ok(self.cell_space()?.size()),
            SpaceKind::Dag => self.dag_space().map(|_| None),
        }
    }
}

impl<'de> Deserialize<'de> for SpaceSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = SpaceSetting;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a preset's name (\"nb201\", \"nb101\") or a [space] table")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<SpaceSetting, E> {
                SpaceName::deserialize(de::value::StrDeserializer::<E>::new(name))
                    .map(SpaceSetting::Preset)
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<SpaceSetting, M::Error> {
                DeclaredSpace::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(SpaceSetting::Declared)
            }
        }
        deserializer.deserialize_any(Either)
    }
}

/// Spaces up to this size are pre-trained on whole (stage 1 sees every architecture); larger
/// ones, and spaces too large to list, on a sample of [`PRETRAIN_SAMPLE`] architectures.
pub const PRETRAIN_WHOLE_LIMIT: usize = 20_000;

/// The default size of stage 1's sample of a space larger than [`PRETRAIN_WHOLE_LIMIT`]:
/// on NAS-Bench-201, 5,000 cells pre-trained for as many steps as the whole space ranked as
/// well as the whole space (docs/results/predictor.md, "Stage 1 on a sample of the space").
pub const PRETRAIN_SAMPLE: usize = 5_000;

/// The size of the space on which [`PRETRAIN_SAMPLE`] was measured (NAS-Bench-201's): a
/// sample is pre-trained for the steps `epochs` passes over this many architectures take.
pub const PRETRAIN_SAMPLE_REFERENCE: usize = dcl_graph::NB201_NUM_CELLS;

/// Stage 1's settings for a sample of `n` architectures: the steps `config.epochs` passes over
/// [`PRETRAIN_SAMPLE_REFERENCE`] architectures take (or `config.max_steps`), and as many
/// passes over the sample as those steps need: what the sample rule was measured with.
pub fn sample_stage1(
    config: &dcl_predictor::PretrainConfig,
    n: usize,
) -> dcl_predictor::PretrainConfig {
    let mut stage1 = config.clone();
    let per_epoch = PRETRAIN_SAMPLE_REFERENCE.div_ceil(stage1.batch_size.max(1));
    let steps = stage1.max_steps.unwrap_or(stage1.epochs * per_epoch);
    stage1.epochs = (steps * stage1.batch_size).div_ceil(n.max(1)).max(1);
    stage1.max_steps = Some(steps);
    stage1
}

/// What stage 1 pre-trains on.
#[derive(Debug, Clone)]
pub struct PretrainSet<A> {
    /// The architectures, one per key.
    pub archs: Vec<A>,
    /// Whether they are the whole space (else a random sample of it).
    pub whole: bool,
}

/// The architectures stage 1 pre-trains on: the whole space when its `size` is known and at
/// most [`PRETRAIN_WHOLE_LIMIT`] (and it lists itself), else up to `sample` distinct
/// architectures drawn with `seed` (fewer only when draws stop finding new ones).
pub fn pretrain_set<S: SearchSpace>(
    space: &S,
    size: Option<usize>,
    sample: usize,
    seed: u64,
) -> PretrainSet<S::Arch> {
    if size.is_some_and(|n| n <= PRETRAIN_WHOLE_LIMIT)
        && let Some(all) = space.enumerate()
    {
        return PretrainSet {
            archs: all,
            whole: true,
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = std::collections::HashSet::new();
    let mut archs = Vec::with_capacity(sample);
    let mut misses = 0;
    // A draw that repeats a key is a miss; many in a row mean the space is nearly exhausted.
    while archs.len() < sample && misses < 100 * sample.max(1) {
        let arch = space.sample(&mut rng);
        if seen.insert(space.canonical_text(&arch)) {
            archs.push(arch);
            misses = 0;
        } else {
            misses += 1;
        }
    }
    PretrainSet {
        archs,
        whole: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        space: SpaceSetting,
    }

    fn parse(text: &str) -> Result<SpaceSetting, String> {
        toml::from_str::<File>(text)
            .map(|f| f.space)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_space_is_a_preset_name_or_a_table_and_writes_back_the_same() {
        assert_eq!(
            parse("space = \"nb101\"").unwrap(),
            SpaceSetting::Preset(SpaceName::Nb101)
        );
        let declared =
            parse("[space]\nkind = \"cell\"\nnodes = 3\nops = [\"none\", \"conv\"]").unwrap();
        let SpaceSetting::Declared(d) = &declared else {
            panic!("{declared:?}")
        };
        assert_eq!(d.name(), "cell");
        assert_eq!(d.size().unwrap(), Some(8));
        #[derive(Serialize)]
        struct Out<'a> {
            space: &'a SpaceSetting,
        }
        let text = toml::to_string(&Out { space: &declared }).unwrap();
        assert_eq!(parse(&text).unwrap(), declared);
        // Misspelt keys, unknown presets and kinds are refused by name.
        let e = parse("[space]\nkind = \"cell\"\nnode = 3\nops = [\"a\"]").unwrap_err();
        assert!(e.contains("unknown field `node`"), "{e}");
        let e = parse("space = \"nb301\"").unwrap_err();
        assert!(e.contains("nb301"), "{e}");
        let e = parse("[space]\nkind = \"graph\"\nnodes = 3\nops = [\"a\"]").unwrap_err();
        assert!(e.contains("graph"), "{e}");
        // A table the space cannot be built from is refused naming the key.
        let bad = DeclaredSpace {
            kind: SpaceKind::Cell,
            name: None,
            nodes: 1,
            max_edges: None,
            ops: vec!["a".into()],
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.starts_with("key `space`") && e.contains("nodes"), "{e}");
        let e = DeclaredSpace {
            nodes: 3,
            max_edges: Some(2),
            ..bad.clone()
        };
        assert!(
            e.validate()
                .unwrap_err()
                .to_string()
                .contains("space.max_edges")
        );
        // A DAG space needs its edge limit, and keeps it.
        let dag = parse("[space]\nkind = \"dag\"\nnodes = 5\nmax_edges = 6\nops = [\"c\", \"p\"]")
            .unwrap();
        let SpaceSetting::Declared(d) = &dag else {
            panic!("{dag:?}")
        };
        assert_eq!(d.name(), "dag");
        assert_eq!(d.size().unwrap(), None);
        assert_eq!(d.dag_space().unwrap().max_edges(), 6);
        let no_limit = DeclaredSpace {
            max_edges: None,
            ..d.clone()
        };
        assert!(
            no_limit
                .validate()
                .unwrap_err()
                .to_string()
                .contains("space.max_edges")
        );
        let too_many = DeclaredSpace {
            max_edges: Some(11),
            ..d.clone()
        };
        assert!(
            too_many
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_edges")
        );
    }

    #[test]
    fn stage_1_lists_small_spaces_whole_and_samples_large_ones_the_same_way_for_a_seed() {
        let small = CellSpace::new("s", 3, ["a", "b", "c"]).unwrap();
        let set = pretrain_set(&small, small.size(), 5, 0);
        assert!(set.whole);
        assert_eq!(set.archs.len(), 27);
        // 6^10 cells: too many to list whole.
        let large = CellSpace::new("l", 5, ["a", "b", "c", "d", "e", "f"]).unwrap();
        let a = pretrain_set(&large, large.size(), 300, 3);
        assert!(!a.whole);
        assert_eq!(a.archs.len(), 300);
        let keys: std::collections::HashSet<_> = a.archs.iter().map(|c| c.to_string()).collect();
        assert_eq!(keys.len(), 300, "a sample holds each architecture once");
        let b = pretrain_set(&large, large.size(), 300, 3);
        assert_eq!(a.archs, b.archs);
        assert_ne!(a.archs, pretrain_set(&large, large.size(), 300, 4).archs);
        // NB101's space (423,624 cells) is sampled.
        let nb101 = pretrain_set(&Nb101Space::new(), Some(423_624), 50, 0);
        assert!(!nb101.whole);
        assert_eq!(nb101.archs.len(), 50);
    }
}
