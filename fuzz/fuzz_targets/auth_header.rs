#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipparty_core::fuzzing::auth::header(data));
