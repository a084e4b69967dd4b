//! Fuzz crashes in the message layer, found by the `uri` cargo-fuzz target
//! (`sipparty_core::fuzzing::message::uri`), kept as regression tests.

use sipparty_core::message::Uri;

/// `uri` target, crash-c8ee454f51f65c64b7e8777c499f7cb9e5b50971:
/// a URI that parses is not `equivalent` to itself (panics with
/// "a URI is equivalent to itself" at src/fuzzing/message.rs:74).
/// The input repeats the `user` parameter.
#[test]
fn uri_with_repeated_user_param_is_equivalent_to_itself() {
    let s = "sip:%61lice:pw@EXAMPLE.com;ttl/15;user=ph////15;user=phone";
    let u = Uri::parse(s).expect("the fuzzer saw it parse");
    assert!(u.equivalent(&u), "{s} is not equivalent to itself");
}

/// The same, minimized by hand.
#[test]
fn uri_minimal_repeated_user_param_is_equivalent_to_itself() {
    let s = "sip:a@b;user=x;user=y";
    let u = Uri::parse(s).expect("parses");
    assert!(u.equivalent(&u), "{s} is not equivalent to itself");
}
