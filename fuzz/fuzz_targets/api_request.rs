//! libFuzzer driver of `lockgate_fuzz::api_request` (see `tests/fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lockgate_fuzz::api_request(data));
