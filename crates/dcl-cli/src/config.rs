//! Config files: TOML, every key optional (a missing key keeps its default), unknown keys an
//! error naming them; flags override the file.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::CliError;

/// Reads the config file at `path` over `T::default()`: tables merge key by key, so a file
/// may set one key of a table and keep the table's other defaults. Any key that `T` does not
/// have is an error naming it (as a dotted path), as is any malformed value.
pub fn load<T: Serialize + DeserializeOwned + Default>(path: &Path) -> Result<T, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    parse::<T>(&text, T::default()).map_err(|e| match e {
        CliError::Invalid(m) => CliError::Invalid(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// [`load`] from text, over `base` rather than the default.
pub fn parse<T: Serialize + DeserializeOwned>(text: &str, base: T) -> Result<T, CliError> {
    let file: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| CliError::Invalid(e.to_string()))?;
    let mut merged = match toml::Value::try_from(&base) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    merge(&mut merged, file);
    let mut unknown = Vec::new();
    let value: T = serde_ignored::deserialize(toml::Value::Table(merged), |path| {
        unknown.push(path.to_string())
    })
    .map_err(|e| CliError::Invalid(e.to_string()))?;
    if !unknown.is_empty() {
        return Err(CliError::Invalid(format!(
            "unknown key{} {}",
            if unknown.len() > 1 { "s" } else { "" },
            unknown
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(value)
}

/// Writes `config` as TOML to `path` atomically.
pub fn save<T: Serialize>(config: &T, path: &Path) -> Result<(), CliError> {
    let text = toml::to_string_pretty(config)
        .map_err(|e| CliError::Invalid(format!("cannot write the config as TOML: {e}")))?;
    dcl_graph::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// `over`'s keys into `base`: tables recursively, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Declares which config key each settings flag of a flags struct overrides, once: the
/// struct's `KEYS` lists (flag field, dotted key) for [`key_flags`], and its `apply_keys`
/// sets each key whose flag was given ([`Given`]; `[*] key` for a key reached through a
/// `&mut`).
macro_rules! flag_keys {
    ($flags:ty, $cfg:ty, { $($flag:ident => $([$star:tt])? $($key:ident).+),* $(,)? }) => {
        impl $flags {
            /// Each settings flag's field and the dotted config key it overrides.
            #[cfg_attr(not(test), allow(dead_code))]
            pub(crate) const KEYS: &'static [(&'static str, &'static str)] =
                &[$((stringify!($flag), stringify!($($key).+))),*];

            /// Sets each key whose flag was given.
            #[allow(unused_mut)]
            fn apply_keys(&self, mut cfg: $cfg) {
                $(if let Some(v) = $crate::config::Given::given(&self.$flag) {
                    $($star)? cfg.$($key).+ = v.into();
                })*
            }
        }
    };
}
pub(crate) use flag_keys;

/// The value a flag gives its key, when the flag was given: an option's value, or `true` for
/// a switch.
pub(crate) trait Given {
    /// The value.
    type Value;
    /// `Some` when the flag was given.
    fn given(&self) -> Option<Self::Value>;
}

impl<T: Clone> Given for Option<T> {
    type Value = T;
    fn given(&self) -> Option<T> {
        self.clone()
    }
}

impl Given for bool {
    type Value = bool;
    fn given(&self) -> Option<bool> {
        self.then_some(true)
    }
}

/// A setting as error messages name it: the library's field name (`word`) in the config
/// `section` ("" for a top-level key), the config file's dotted `key`, and the `flag` that
/// sets it ("" when only a config file does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyFlag {
    /// The config section.
    pub section: String,
    /// The field's name in the library's messages.
    pub word: String,
    /// The config key.
    pub key: String,
    /// The flag, or "".
    pub flag: String,
}

impl KeyFlag {
    fn new(key: &str, word: Option<&str>, flag: String) -> Self {
        let (section, last) = key.split_once('.').unwrap_or(("", key));
        Self {
            section: section.to_owned(),
            word: word.unwrap_or(last).to_owned(),
            key: key.to_owned(),
            flag,
        }
    }
}

/// The key → flag map of a command whose arguments are `cmd`: each (field, key) of `keys`
/// with the long flag clap gives that field, each key of `config_only` without a flag, and
/// each (word, key) of `aliases`, a library field name that messages use for a config key of
/// another name.
pub(crate) fn key_flags(
    cmd: &clap::Command,
    keys: &[&[(&str, &str)]],
    config_only: &[&str],
    aliases: &[(&str, &str)],
) -> Vec<KeyFlag> {
    let flag_of = |field: &str| {
        cmd.get_arguments()
            .find(|a| a.get_id() == field)
            .and_then(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .unwrap_or_default()
    };
    let mut out: Vec<KeyFlag> = keys
        .iter()
        .flat_map(|k| k.iter())
        .map(|&(field, key)| KeyFlag::new(key, None, flag_of(field)))
        .collect();
    out.extend(
        config_only
            .iter()
            .map(|k| KeyFlag::new(k, None, String::new())),
    );
    for &(word, key) in aliases {
        let flag = out
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.flag.clone())
            .unwrap_or_default();
        out.push(KeyFlag::new(key, Some(word), flag));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Inner {
        a: u32,
        b: Option<f64>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Outer {
        budget: usize,
        inner: Inner,
    }

    impl Default for Outer {
        fn default() -> Self {
            Self {
                budget: 100,
                inner: Inner { a: 3, b: None },
            }
        }
    }

    #[test]
    fn a_partial_table_keeps_the_other_defaults() {
        let c: Outer = parse("[inner]\nb = 0.5\n", Outer::default()).unwrap();
        assert_eq!(c.budget, 100);
        assert_eq!(c.inner, Inner { a: 3, b: Some(0.5) });
        let c: Outer = parse("budget = 7", Outer::default()).unwrap();
        assert_eq!((c.budget, c.inner.a), (7, 3));
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let e = parse::<Outer>("budgett = 1\n[inner]\nc = 2\n", Outer::default()).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("`budgett`") && m.contains("`inner.c`"), "{m}");
        let e = parse::<Outer>("budget = \"many\"", Outer::default()).unwrap_err();
        assert!(e.to_string().contains("budget"), "{e}");
        assert!(parse::<Outer>("budget = ", Outer::default()).is_err());
    }

    #[test]
    fn a_saved_config_reads_back_equal() {
        let dir = std::env::temp_dir().join(format!("dcl-cli-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = Outer {
            budget: 3,
            inner: Inner { a: 9, b: Some(1.5) },
        };
        save(&c, &dir.join("c.toml")).unwrap();
        assert_eq!(load::<Outer>(&dir.join("c.toml")).unwrap(), c);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
