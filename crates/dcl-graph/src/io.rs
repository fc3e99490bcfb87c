//! Writing files so that a crash never leaves a half-written one behind.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, flushed
/// to disk (fsync), then renamed over `path`, and the directory synced, so that after a crash
/// or a `kill -9` the file is either the old one or the new one, never a mixture.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("dcl-graph-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("result.json");
/// dcl_graph::io::write_atomic(&path, b"{\"acc\": 94.37}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{\"acc\": 94.37}");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> std::io::Result<()> {
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
    // One temporary name per process and call, so two writers never share a temporary file.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}.{n}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory is synced (on Unix).
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The first place where two JSON values differ, as a dotted path (`driver.batch_size`,
/// `lineage.pretraining.0.config.edge_drop`; empty when the roots differ) with both values as
/// text. Object keys are visited in sorted order, a key missing on one side reads as `null`,
/// and arrays of equal length are compared element by element (index as the path step). Used
/// to say why a journal or a cached file belongs to another run.
///
/// ```
/// use serde_json::json;
/// let a = json!({"seed": 0, "driver": {"budget": 100, "batch_size": 1}});
/// let b = json!({"seed": 0, "driver": {"budget": 100, "batch_size": 4}});
/// let (path, left, right) = dcl_graph::io::first_difference(&a, &b).unwrap();
/// assert_eq!((path.as_str(), left.as_str(), right.as_str()), ("driver.batch_size", "1", "4"));
/// assert_eq!(dcl_graph::io::first_difference(&a, &a), None);
/// ```
pub fn first_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> Option<(String, String, String)> {
    difference_at("", a, b)
}

fn difference_at(
    at: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    let join = |k: &str| {
        if at.is_empty() {
            k.to_owned()
        } else {
            format!("{at}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                difference_at(
                    &join(k),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| difference_at(&join(&i.to_string()), p, q)),
        _ if a == b => None,
        _ => Some((at.to_owned(), a.to_string(), b.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_the_old_content_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("dcl-io-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        std::fs::write(&path, b"old content, longer than the new").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
        // A path in a directory that does not exist is an error, not a panic.
        assert!(write_atomic(dir.join("missing/b.txt"), b"x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a = json!({"lineage": {"init_seed": 1, "pretraining": [{"config": {"epochs": 2}}]}});
        let b = json!({"lineage": {"init_seed": 1, "pretraining": [{"config": {"epochs": 3}}]}});
        assert_eq!(
            first_difference(&a, &b),
            Some((
                "lineage.pretraining.0.config.epochs".into(),
                "2".into(),
                "3".into()
            ))
        );
        // Arrays of other lengths differ as a whole; a key on one side only meets null.
        let c = json!({"lineage": {"init_seed": 1, "pretraining": []}});
        assert_eq!(first_difference(&a, &c).unwrap().0, "lineage.pretraining");
        let d = json!({"lineage": {"init_seed": 1, "pretraining": [{"config": {"epochs": 2}}]}, "x": 1});
        assert_eq!(
            first_difference(&a, &d),
            Some(("x".into(), "null".into(), "1".into()))
        );
        // Sorted keys: `a.z` is reported before `b`, whatever the insertion order.
        let e = json!({"b": 1, "a": {"z": 1}});
        let f = json!({"b": 2, "a": {"z": 2}});
        assert_eq!(first_difference(&e, &f).unwrap().0, "a.z");
        assert_eq!(first_difference(&json!(1), &json!(2)).unwrap().0, "");
        assert_eq!(first_difference(&a, &a.clone()), None);
    }
}
