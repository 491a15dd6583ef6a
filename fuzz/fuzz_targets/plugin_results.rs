//! libFuzzer driver of `lockgate_fuzz::plugin_results` (see `tests/fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lockgate_fuzz::plugin_results(data));
