//! Every crate of the workspace packages for crates.io, each `.crate` under crates.io's 10 MB
//! limit, and the bundled MIT-BIH copy stays out of `dcl-ecg`'s package.

use std::process::Command;

/// crates.io's limit on an uploaded `.crate`.
const CRATES_IO_LIMIT: u64 = 10 * 1024 * 1024;

#[test]
fn every_crate_packages_under_the_crates_io_limit() {
    let target = std::env::temp_dir().join(format!("dcl-enas-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&target);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "package",
            "--workspace",
            "--no-verify",
            "--allow-dirty",
            "--offline",
        ])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo package failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sizes: Vec<(String, u64)> = std::fs::read_dir(target.join("package"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".crate")
                .then(|| (name, e.metadata().map(|m| m.len()).unwrap_or(u64::MAX)))
        })
        .collect();
    sizes.sort();
    let names: Vec<&str> = sizes.iter().map(|(n, _)| n.as_str()).collect();
    for krate in [
        "dcl-bench",
        "dcl-cli",
        "dcl-contrastive",
        "dcl-ecg",
        "dcl-ecg-app",
        "dcl-enas",
        "dcl-evo",
        "dcl-exec",
        "dcl-graph",
        "dcl-predictor",
        "dcl-slurm",
        "dcl-train",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(&format!("{krate}-0"))),
            "{krate} was not packaged: {names:?}"
        );
    }
    for (name, size) in &sizes {
        assert!(*size < CRATES_IO_LIMIT, "{name} is {size} bytes");
    }
    // The database is not in dcl-ecg's package (its test fixtures are).
    let ecg = sizes
        .iter()
        .find(|(n, _)| n.starts_with("dcl-ecg-"))
        .unwrap();
    assert!(ecg.1 < 1024 * 1024, "dcl-ecg is {} bytes", ecg.1);
    let _ = std::fs::remove_dir_all(&target);
}
