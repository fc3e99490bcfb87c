//! Keyword settings from Python laid over the library's defaults, key by key, as the
//! program's config file lays its tables over them (the same names: `dcl_enas`, `pretrain`,
//! `finetune`, `model`, ...).

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::errors::Error;

/// `defaults` with the entries of `overrides` (a Python dict, nested dicts for tables) laid
/// over it; a key the defaults lack is refused, naming its dotted path.
pub fn overlay<T: Serialize + DeserializeOwned>(
    defaults: &T,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<T> {
    let mut value = serde_json::to_value(defaults).expect("settings serialize");
    if let Some(d) = overrides {
        let json: String = d
            .py()
            .import("json")?
            .call_method1("dumps", (d,))?
            .extract()?;
        let given: Value = serde_json::from_str(&json)
            .map_err(|e| Error::value(format!("settings are not plain values: {e}")))?;
        merge(&mut value, given, "")?;
    }
    Ok(serde_json::from_value(value).map_err(|e| Error::value(format!("settings: {e}")))?)
}

fn merge(into: &mut Value, given: Value, path: &str) -> Result<(), Error> {
    match (into, given) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match base.get_mut(&k) {
                    Some(slot) => merge(slot, v, &here)?,
                    None => {
                        let mut known: Vec<&String> = base.keys().collect();
                        known.sort();
                        return Err(Error::value(format!(
                            "unknown setting {here:?} (known here: {})",
                            known
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
            }
            Ok(())
        }
        (slot, v) => {
            *slot = v;
            Ok(())
        }
    }
}
