//! Fuzz target: see `pushgateway::fuzzing::grouping_key`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushgateway::fuzzing::grouping_key(data));
