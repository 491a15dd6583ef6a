//! libFuzzer driver of `lockgate_fuzz::registry_files` (see `tests/fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lockgate_fuzz::registry_files(data));
