//! Config files: TOML, every key optional (a missing key keeps its default), unknown keys an
//! error naming them; flags override the file.

use std::collections::BTreeMap;
use std::path::Path;

use clap::{Args, FromArgMatches};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::CliError;

/// A command's config file: TOML, every key optional.
pub trait ConfigFile: Serialize + DeserializeOwned + Default {
    /// Keys renamed since files of this kind were first written, as (old dotted key, new
    /// dotted key), applied in order before the file is read: a file that names an old key
    /// reads as if it named the new one, and one that names both is refused. A new key under
    /// its old one (`multiobjective` -> `multiobjective.enabled`) moves only an old value
    /// that is not a table.
    const RENAMED: &'static [(&'static str, &'static str)] = &[];
}

/// Reads the config file at `path` over `T::default()`: tables merge key by key, so a file
/// may set one key of a table and keep the table's other defaults. Any key that `T` does not
/// have is an error naming it (as a dotted path), as is any malformed value; renamed keys
/// ([`ConfigFile::RENAMED`]) read as their new names.
pub fn load<T: ConfigFile>(path: &Path) -> Result<T, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    parse::<T>(&text, T::default()).map_err(|e| match e {
        CliError::Invalid(m) => CliError::Invalid(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// [`load`] from text, over `base` rather than the default.
pub fn parse<T: ConfigFile>(text: &str, base: T) -> Result<T, CliError> {
    let mut file: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| CliError::Invalid(e.to_string()))?;
    for (old, new) in T::RENAMED {
        rename(&mut file, old, new)?;
    }
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

/// Moves the value at the dotted key `old` of `table` to `new` ([`ConfigFile::RENAMED`]).
fn rename(table: &mut toml::Table, old: &str, new: &str) -> Result<(), CliError> {
    let old_path: Vec<&str> = old.split('.').collect();
    let new_path: Vec<&str> = new.split('.').collect();
    let Some((old_last, old_parents)) = old_path.split_last() else {
        return Ok(());
    };
    let Some(parent) = table_at(table, old_parents) else {
        return Ok(());
    };
    let under_old = new.starts_with(&format!("{old}."));
    match parent.get(*old_last) {
        None => return Ok(()),
        Some(toml::Value::Table(_)) if under_old => return Ok(()),
        Some(_) => {}
    }
    let value = parent.remove(*old_last).expect("present");
    let (new_last, new_parents) = new_path.split_last().expect("a key");
    let mut at = &mut *table;
    for key in new_parents {
        let next = at
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = next else {
            return Err(CliError::Invalid(format!(
                "`{old}` is now `{new}`, but `{key}` is not a table"
            )));
        };
        at = t;
    }
    if at.contains_key(*new_last) {
        return Err(CliError::Invalid(format!(
            "`{old}` and `{new}` are the same setting (`{old}` is its former name): give it once"
        )));
    }
    at.insert(new_last.to_string(), value);
    Ok(())
}

/// The table at the dotted path `keys` of `table`, if there is one.
fn table_at<'t>(table: &'t mut toml::Table, keys: &[&str]) -> Option<&'t mut toml::Table> {
    keys.iter().try_fold(table, |t, k| match t.get_mut(*k) {
        Some(toml::Value::Table(inner)) => Some(inner),
        _ => None,
    })
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
/// struct's `KEYS` lists (flag field, dotted key) for [`key_flags`] and [`check_command`], and
/// its `apply_keys` sets each key whose flag was given ([`Given`]; `[*] key` for a key reached
/// through a `&mut`).
#[macro_export]
macro_rules! flag_keys {
    ($flags:ty, $cfg:ty, { $($flag:ident => $([$star:tt])? $($key:ident).+),* $(,)? }) => {
        impl $flags {
            /// Each settings flag's field and the dotted config key it overrides.
            pub const KEYS: &'static [(&'static str, &'static str)] =
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
pub use crate::flag_keys;

/// The value a flag gives its key, when the flag was given: an option's value, or `true` for
/// a switch.
pub trait Given {
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
pub struct KeyFlag {
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
pub fn key_flags(
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

/// The leaves of `v` as dotted paths.
fn leaves(v: &Value, at: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                leaves(x, &path, out);
            }
        }
        other => {
            out.insert(at.to_owned(), other.clone());
        }
    }
}

fn paths<C: Serialize>(c: &C) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    leaves(&serde_json::to_value(c).unwrap(), "", &mut out);
    out
}

/// The keys a flag's value changes in `C::default()`, for the first of a few values that
/// parses and changes something.
fn changed_by<A: Args + FromArgMatches, C: Serialize + Default>(
    long: &str,
    possible: &[String],
    required: &[&str],
    apply: &dyn Fn(&A, &mut C),
) -> Vec<String> {
    let base = paths(&C::default());
    // A switch first (no value), then values.
    let candidates = [None].into_iter().chain(
        possible
            .iter()
            .map(String::as_str)
            .chain(["7", "0.37", "burn", "rnc", "nadir"])
            .map(Some),
    );
    for value in candidates {
        let cmd = A::augment_args(clap::Command::new("test").no_binary_name(true));
        let line = required
            .iter()
            .map(|a| a.to_string())
            .chain([format!("--{long}")])
            .chain(value.map(str::to_owned));
        let Ok(m) = cmd.try_get_matches_from(line) else {
            continue;
        };
        let args = A::from_arg_matches(&m).unwrap();
        let mut cfg = C::default();
        apply(&args, &mut cfg);
        let now = paths(&cfg);
        let changed: Vec<String> = now
            .iter()
            .filter(|(k, v)| base.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .chain(base.keys().filter(|k| !now.contains_key(*k)).cloned())
            .collect();
        if !changed.is_empty() {
            return changed;
        }
    }
    Vec::new()
}

/// For a command's tests (it panics on the first failure): every settings flag of a command
/// (its arguments `A`, its config `C`) sets exactly the key its `KEYS` entry names (the
/// key → flag map is derived from those entries and clap's names), no two flags one key,
/// every argument but `other` is a settings flag with a key, every key of the config is
/// set by a flag or is config-only (a key of `config_only`, listed in `--config`'s help)
/// or under one of `set_otherwise` (a table documented on its own, a key the command
/// sets itself). `required` arguments go before each flag tried.
pub fn check_command<A: Args + FromArgMatches, C: Serialize + Default>(
    keys: &[&[(&str, &str)]],
    config_only: &[&str],
    other: &[&str],
    set_otherwise: &[&str],
    required: &[&str],
    apply: &dyn Fn(&A, &mut C),
) {
    let cmd = A::augment_args(clap::Command::new("test"));
    let keys: Vec<(&str, &str)> = keys.iter().flat_map(|k| k.iter().copied()).collect();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if other.contains(&id) {
            continue;
        }
        let (_, key) = keys
            .iter()
            .find(|(field, _)| *field == id)
            .unwrap_or_else(|| panic!("--{id} is in no KEYS entry"));
        let long = arg.get_long().expect("a long flag");
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_owned())
            .collect();
        let changed = changed_by::<A, C>(long, &possible, required, apply);
        assert!(!changed.is_empty(), "--{long} changes no key");
        for path in &changed {
            assert!(
                path == key || path.starts_with(&format!("{key}.")),
                "--{long} changed `{path}`, not its key `{key}`"
            );
        }
    }
    for (field, _) in &keys {
        assert!(
            cmd.get_arguments().any(|a| a.get_id() == *field),
            "KEYS names `{field}`, which is no flag"
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, key) in &keys {
        assert!(seen.insert(*key), "two flags set `{key}`");
    }
    let defaults = paths(&C::default());
    let covered = |path: &str| {
        let under = |key: &str| path == key || path.starts_with(&format!("{key}."));
        keys.iter().any(|(_, k)| under(k))
            || config_only.iter().any(|k| under(k))
            || set_otherwise.iter().any(|k| under(k))
    };
    let uncovered: Vec<&String> = defaults.keys().filter(|p| !covered(p)).collect();
    assert!(
        uncovered.is_empty(),
        "keys set by no flag and not listed as config-only: {uncovered:?}"
    );
    let help = cmd
        .get_arguments()
        .find(|a| a.get_id() == "config")
        .and_then(|a| a.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    for key in config_only {
        let present = defaults.contains_key(*key) || *key == "finetune.loss.weight";
        assert!(
            present,
            "config-only key `{key}` is not a key of the config"
        );
        assert!(help.contains(key), "--config's help does not list `{key}`");
    }
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

    impl ConfigFile for Outer {
        const RENAMED: &'static [(&'static str, &'static str)] = &[
            ("queries", "budget"),
            ("old", "inner"),
            ("inner.a0", "inner.a"),
        ];
    }

    /// A switch that became a table: `flag = true` is now `flag.on = true`.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct Switch {
        flag: On,
        count: u32,
    }

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct On {
        on: bool,
        level: u32,
    }

    impl ConfigFile for Switch {
        const RENAMED: &'static [(&'static str, &'static str)] =
            &[("flag", "flag.on"), ("level", "flag.level")];
    }

    #[test]
    fn renamed_keys_read_as_their_new_names_and_both_at_once_are_refused() {
        let outer = |text: &str| parse::<Outer>(text, Outer::default());
        let c = outer("queries = 7\n[old]\na0 = 9\n").unwrap();
        assert_eq!((c.budget, c.inner.a, c.inner.b), (7, 9, None));
        let c = outer("[inner]\na0 = 2\nb = 0.5\n").unwrap();
        assert_eq!(c.inner, Inner { a: 2, b: Some(0.5) });
        let e = outer("queries = 7\nbudget = 8\n").unwrap_err();
        assert!(e.to_string().contains("`queries` and `budget`"), "{e}");
        let e = outer("[inner]\na = 1\na0 = 2\n").unwrap_err();
        assert!(e.to_string().contains("`inner.a0` and `inner.a`"), "{e}");
        // A former leaf under its new table moves; the new table itself is left alone.
        let switch = |text: &str| parse::<Switch>(text, Switch::default());
        let c = switch("flag = true\nlevel = 3\ncount = 1\n").unwrap();
        assert_eq!(c.flag, On { on: true, level: 3 });
        assert!(switch("[flag]\non = true\n").unwrap().flag.on);
        assert!(switch("level = 3\n[flag]\nlevel = 4\n").is_err());
        // Unknown keys are still named after the renames.
        let e = outer("[old]\nd = 1\n").unwrap_err();
        assert!(e.to_string().contains("`inner.d`"), "{e}");
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
