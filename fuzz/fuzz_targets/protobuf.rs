//! Fuzz target: see `pushgateway::fuzzing::protobuf`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushgateway::fuzzing::protobuf(data));
