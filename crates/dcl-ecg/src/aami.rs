//! The AAMI EC57 beat classes and the mapping from MIT-BIH annotation symbols.

use std::fmt;

/// The five AAMI EC57 heartbeat classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AamiClass {
    /// Normal and bundle-branch-block beats (N, L, R, e, j).
    N,
    /// Supraventricular ectopic beats (A, a, J, S).
    S,
    /// Ventricular ectopic beats (V, E).
    V,
    /// Fusion of ventricular and normal beats (F).
    F,
    /// Paced and unclassifiable beats (/, f, Q).
    Q,
}

impl AamiClass {
    /// All five classes in their index order.
    pub const ALL: [AamiClass; 5] = [Self::N, Self::S, Self::V, Self::F, Self::Q];

    /// 0 for N up to 4 for Q.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class with this index, if any.
    pub fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// One-letter name.
    pub fn name(self) -> &'static str {
        ["N", "S", "V", "F", "Q"][self.index()]
    }

    /// Parses a one-letter class name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Classifies a MIT-BIH annotation symbol: `Ok(Some(class))` for a beat, `Ok(None)` for a
    /// known non-beat annotation (rhythm change, noise, comment, ...), `Err(())` for a symbol
    /// that is not a MIT-BIH annotation code.
    ///
    /// ```
    /// use dcl_ecg::AamiClass;
    /// assert_eq!(AamiClass::from_symbol("L"), Ok(Some(AamiClass::N)));
    /// assert_eq!(AamiClass::from_symbol("A"), Ok(Some(AamiClass::S)));
    /// assert_eq!(AamiClass::from_symbol("+"), Ok(None));
    /// assert!(AamiClass::from_symbol("?!").is_err());
    /// ```
    #[allow(clippy::result_unit_err)] // the caller adds the record and sample to its own error
    pub fn from_symbol(symbol: &str) -> Result<Option<Self>, ()> {
        Ok(Some(match symbol {
            "N" | "L" | "R" | "e" | "j" => Self::N,
            "A" | "a" | "J" | "S" => Self::S,
            "V" | "E" => Self::V,
            "F" => Self::F,
            "/" | "f" | "Q" => Self::Q,
            // Non-beat codes of the MIT annotation format (PhysioNet's ecgcodes.h).
            "[" | "!" | "]" | "x" | "(" | ")" | "p" | "t" | "u" | "`" | "'" | "^" | "|" | "~"
            | "+" | "s" | "T" | "*" | "D" | "=" | "\"" | "@" => return Ok(None),
            _ => return Err(()),
        }))
    }
}

impl fmt::Display for AamiClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which classes a task uses. Inter-patient studies usually drop Q: outside the four paced
/// records MIT-BIH holds only 15 Q beats, too few to learn or to measure.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ClassSet {
    /// N, S, V, F (Q beats are left out). The default.
    #[default]
    Aami4,
    /// N, S, V, F, Q.
    Aami5,
}

impl ClassSet {
    /// The number of classes.
    pub fn len(self) -> usize {
        match self {
            Self::Aami4 => 4,
            Self::Aami5 => 5,
        }
    }

    /// Never true; here for symmetry with `len`.
    pub fn is_empty(self) -> bool {
        false
    }

    /// The classes, in label order.
    pub fn classes(self) -> &'static [AamiClass] {
        &AamiClass::ALL[..self.len()]
    }

    /// The label of a class, or `None` when the class is left out.
    pub fn label(self, class: AamiClass) -> Option<usize> {
        (class.index() < self.len()).then_some(class.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips() {
        for c in AamiClass::ALL {
            assert_eq!(AamiClass::from_index(c.index()), Some(c));
            assert_eq!(AamiClass::from_name(c.name()), Some(c));
        }
        assert_eq!(AamiClass::from_index(5), None);
    }

    #[test]
    fn class_sets() {
        assert_eq!(ClassSet::Aami4.label(AamiClass::Q), None);
        assert_eq!(ClassSet::Aami5.label(AamiClass::Q), Some(4));
        assert_eq!(ClassSet::Aami4.classes().len(), 4);
    }
}
