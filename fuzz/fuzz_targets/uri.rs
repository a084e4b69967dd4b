#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipparty_core::fuzzing::message::uri(data));
