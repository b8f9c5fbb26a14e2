//! Fuzz target: see `pushgateway::fuzzing::text`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushgateway::fuzzing::text(data));
