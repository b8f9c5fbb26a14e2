//! Replays what the fuzz targets in `fuzz/` kept: the minimized corpus (`fuzz/corpus/`) and
//! every input that once failed (`fuzz/regressions/`), through the same entry points, so
//! each stays a regression test on the stable toolchain.

use std::path::Path;

/// Runs `target` on every file under `fuzz/corpus/<name>` and `fuzz/regressions/<name>`;
/// returns how many there were.
fn replay(name: &str, target: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&input));
            assert!(outcome.is_ok(), "fuzz input {} fails", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn the_text_parser_corpus_passes() {
    assert!(replay("text", pushgateway::fuzzing::text) > 100);
}

#[test]
fn the_protobuf_decoder_corpus_passes() {
    assert!(replay("protobuf", pushgateway::fuzzing::protobuf) > 100);
}

#[test]
fn the_grouping_key_corpus_passes() {
    assert!(replay("grouping_key", pushgateway::fuzzing::grouping_key) > 100);
}

#[test]
fn the_content_encoding_corpus_passes() {
    assert!(replay("content_encoding", pushgateway::fuzzing::content_encoding) > 20);
}
