//! libFuzzer driver of `lockgate_fuzz::pipeline` (see `tests/fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lockgate_fuzz::pipeline(data));
