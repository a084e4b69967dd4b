//! Property tests: random sequences of messages (well-formed templates with
//! random tags, CSeqs and branches, and raw bytes), commands and timer
//! jumps never make a Party panic, and leave it able to place a call
//! (checked inside `fuzzing::party::sequence`).

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_never_panic_and_party_still_calls(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        sipparty_core::fuzzing::party::sequence(&data);
    }
}
