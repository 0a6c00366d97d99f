//! Replays every committed fuzz corpus input (`fuzz/corpus/<target>/`)
//! through the same property checks the cargo-fuzz targets run
//! (`fuzz/checks/`), on the stable toolchain: every past finding, once
//! its input is in the corpus, is checked on every commit (issue 17).

use std::fs;
use std::path::Path;

#[path = "../fuzz/checks/mod.rs"]
mod checks;

/// Every target has a corpus directory with inputs, and every input
/// passes its check. A missing or empty directory fails: a target whose
/// corpus was lost would otherwise check nothing.
#[test]
fn every_corpus_input_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failed = Vec::new();
    for &(target, check) in checks::TARGETS {
        let dir = root.join(target);
        let entries = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (a fuzz target needs its corpus)", dir.display()));
        let mut inputs: Vec<_> = entries.map(|e| e.expect("corpus entry").path()).collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{}: empty corpus", dir.display());
        for path in inputs {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // Each failure's message is printed by the panic hook; all are
            // listed at the end.
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failed.push(format!("{target}: {}", path.display()));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "inputs failing their check:\n{}",
        failed.join("\n")
    );
}

/// The list of targets is the fuzz crate's: a target directory there has
/// an entry in `checks::TARGETS`, so none is fuzzed but never replayed.
#[test]
fn every_fuzz_target_is_replayed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("fuzz/fuzz_targets")
        .map(|e| {
            let name = e.expect("entry").file_name();
            let name = name.to_str().expect("UTF-8 name").to_owned();
            name.strip_suffix(".rs").expect("a .rs file").to_owned()
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = checks::TARGETS.iter().map(|(t, _)| t.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}
