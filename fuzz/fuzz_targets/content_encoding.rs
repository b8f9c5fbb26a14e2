//! Fuzz target: see `pushgateway::fuzzing::content_encoding`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushgateway::fuzzing::content_encoding(data));
