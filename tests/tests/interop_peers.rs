//! Validates the interop harness with real peers only, no sipparty:
//! baresip calls baresip directly and through Kamailio (registrar and
//! record-routing proxy, with and without digest auth).
//!
//! Needs `baresip` (Debian `baresip-core`) and `kamailio`, installed by
//! `scripts/install-deps`; without them every test fails naming the peer.

use std::thread::sleep;
use std::time::Duration;

use sipparty_tests::audio::Wav;
use sipparty_tests::{probe, AnswerMode, Baresip, Kamailio, Result, RtpStats};

const EVENT: Duration = Duration::from_secs(5);
/// Long enough for a few dozen 20 ms packets each way.
const TALK: Duration = Duration::from_millis(800);

/// Both directions carried audio: each side sent packets and received some.
fn assert_two_way(who: &str, stats: &RtpStats) {
    assert!(
        stats.tx_packets >= 10,
        "{who} sent too few RTP packets: {stats:?}"
    );
    assert!(
        stats.rx_packets >= 10,
        "{who} received too few RTP packets: {stats:?}"
    );
    assert_eq!(stats.codec, "PCMU", "{who}: {stats:?}");
    assert_eq!(stats.direction, "sendrecv", "{who}: {stats:?}");
}

/// `wav` carries mostly the tone at `hz`, and not the one at `not_hz`.
fn assert_tone(who: &str, wav: &Wav, hz: f64, not_hz: f64) {
    let (at, not_at) = (wav.tone_fraction(hz), wav.tone_fraction(not_hz));
    assert!(
        at > 0.5 && not_at < 0.05,
        "{who} received {:.2} s of audio with {at:.3} of its energy at {hz} Hz and {not_at:.3} at {not_hz} Hz",
        wav.seconds()
    );
}

#[test]
fn baresip_calls_baresip_directly() -> Result<()> {
    let mut alice = Baresip::builder("alice").tone_hz(440).record().start()?;
    let mut bob = Baresip::builder("bob").tone_hz(1000).record().start()?;
    // The OPTIONS probe the sipparty tests use to see that a UA is up gets
    // an answer (404 from baresip 1.0: the probe's URI has no user).
    let status = probe::options(alice.sip_addr(), EVENT)?.unwrap_or_default();
    assert!(
        status.starts_with("SIP/2.0 "),
        "no answer to OPTIONS: {status:?}"
    );

    bob.dial(&alice.direct_uri())?;
    let incoming = alice.wait_event("CALL_ESTABLISHED", EVENT)?;
    assert_eq!(incoming.peer_uri, bob.direct_uri());
    let outgoing = bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    assert_eq!(
        outgoing.call_id, incoming.call_id,
        "one dialog, one Call-ID"
    );
    alice.wait_event("CALL_RTPESTAB", EVENT)?;
    bob.wait_event("CALL_RTPESTAB", EVENT)?;

    sleep(TALK);
    let (a, b) = (alice.rtp_stats()?, bob.rtp_stats()?);
    assert_two_way("alice", &a);
    assert_two_way("bob", &b);
    // Each sends to where the other receives.
    assert_eq!(b.remote.map(|r| r.ip()), Some([127, 0, 0, 1].into()));

    bob.hangup()?;
    let closed = alice.wait_event("CALL_CLOSED", EVENT)?;
    assert_eq!(closed.param, "Connection reset by peer");
    bob.wait_event("CALL_CLOSED", EVENT)?;

    // Real sound went both ways: each side decoded the other's tone.
    let heard_by_alice = alice.received_audio()?;
    assert!(
        heard_by_alice.seconds() > 0.5,
        "{} s",
        heard_by_alice.seconds()
    );
    assert_tone("alice", &heard_by_alice, 1000.0, 440.0);
    assert_tone("bob", &bob.received_audio()?, 440.0, 1000.0);
    Ok(())
}

#[test]
fn hold_resume_and_dtmf_between_baresips() -> Result<()> {
    let mut alice = Baresip::builder("alice").start()?;
    let mut bob = Baresip::builder("bob").start()?;
    bob.dial(&alice.direct_uri())?;
    alice.wait_event("CALL_ESTABLISHED", EVENT)?;
    bob.wait_event("CALL_ESTABLISHED", EVENT)?;

    // Hold: a re-INVITE offering sendonly; alice answers recvonly and stops
    // sending (RFC 3264 s8.4), so bob's receive counter stalls.
    bob.hold()?;
    alice.wait_event_where(
        "re-INVITE offer",
        |e| e.kind == "CALL_REMOTE_SDP" && e.param == "offer",
        EVENT,
    )?;
    bob.wait_event_where(
        "hold answer",
        |e| e.kind == "CALL_REMOTE_SDP" && e.param == "answer",
        EVENT,
    )?;
    assert_eq!(alice.rtp_stats()?.direction, "recvonly");
    sleep(Duration::from_millis(100));
    let held = bob.rtp_stats()?;
    assert_eq!(held.direction, "sendonly", "{held:?}");
    sleep(Duration::from_millis(300));
    let still_held = bob.rtp_stats()?;
    assert!(
        still_held.rx_packets <= held.rx_packets + 2,
        "alice kept sending on hold: {held:?} then {still_held:?}"
    );

    bob.resume()?;
    bob.wait_event_where(
        "resume answer",
        |e| e.kind == "CALL_REMOTE_SDP" && e.param == "answer",
        EVENT,
    )?;
    assert_eq!(alice.rtp_stats()?.direction, "sendrecv");
    // baresip 1.0 restarts its RTP counters on each re-INVITE, so compare
    // against the held figure, not the call's total.
    sleep(Duration::from_millis(500));
    let resumed = bob.rtp_stats()?;
    assert_eq!(resumed.direction, "sendrecv", "{resumed:?}");
    assert!(
        resumed.rx_packets >= still_held.rx_packets + 10,
        "alice did not resume sending: {still_held:?} then {resumed:?}"
    );

    // DTMF as RFC 4733 telephone-events.
    bob.send_dtmf("1#")?;
    let one = alice.wait_event("CALL_DTMF_START", EVENT)?;
    assert_eq!(one.param, "1");
    alice.wait_event("CALL_DTMF_END", EVENT)?;
    let hash = alice.wait_event("CALL_DTMF_START", EVENT)?;
    assert_eq!(hash.param, "#");

    alice.hangup()?;
    bob.wait_event("CALL_CLOSED", EVENT)?;
    Ok(())
}

/// Registration, a call to the AOR via the location service, and in-dialog
/// requests (ACK, BYE in both directions) following the Record-Route.
fn call_through_proxy(mut proxy: Kamailio, password: Option<&str>) -> Result<()> {
    let account = |user: &str| {
        let b = Baresip::builder(user).proxy(proxy.addr());
        match password {
            Some(pw) => b.password(pw),
            None => b,
        }
    };
    let mut alice = account("alice").register().start()?;
    let mut bob = account("bob").start()?;
    if proxy.digest_auth() {
        proxy.wait_trace("challenge", "REGISTER", EVENT)?;
    }
    let reg = proxy.wait_trace("register", "REGISTER", EVENT)?;
    assert_eq!(reg.source, Some(alice.sip_addr()));

    bob.dial(&proxy.aor("alice"))?;
    if proxy.digest_auth() {
        proxy.wait_trace("challenge", "INVITE", EVENT)?;
    }
    let invite = proxy.wait_trace("initial", "INVITE", EVENT)?;
    assert_eq!(invite.source, Some(bob.sip_addr()));
    assert_eq!(invite.ruri, proxy.aor("alice"));
    assert!(
        invite.target.contains(&alice.sip_addr().to_string()),
        "the location lookup should yield alice's Contact: {invite:?}"
    );
    alice.wait_event("CALL_ESTABLISHED", EVENT)?;
    bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    // The ACK for the 2xx is in-dialog: it comes back through the proxy.
    let ack = proxy.wait_trace("loose", "ACK", EVENT)?;
    assert_eq!(ack.source, Some(bob.sip_addr()));

    sleep(TALK);
    assert_two_way("alice", &alice.rtp_stats()?);
    assert_two_way("bob", &bob.rtp_stats()?);

    // The callee hangs up: its BYE follows the route set too.
    alice.hangup()?;
    let bye = proxy.wait_trace("loose", "BYE", EVENT)?;
    assert_eq!(bye.source, Some(alice.sip_addr()));
    bob.wait_event("CALL_CLOSED", EVENT)?;
    alice.wait_event("CALL_CLOSED", EVENT)?;
    let stray: Vec<_> = proxy
        .traces()
        .iter()
        .filter(|t| t.route == "stray")
        .cloned()
        .collect();
    assert!(
        stray.is_empty(),
        "in-dialog requests that missed the route set: {stray:?}"
    );
    Ok(())
}

#[test]
fn call_through_kamailio_registrar_and_record_route() -> Result<()> {
    call_through_proxy(Kamailio::builder().start()?, None)
}

#[test]
fn call_through_kamailio_with_digest_auth() -> Result<()> {
    let proxy = Kamailio::builder()
        .user("alice", "s3cret")
        .user("bob", "s3cret")
        .start()?;
    call_through_proxy(proxy, Some("s3cret"))
}

#[test]
fn kamailio_answers_404_for_an_unregistered_aor() -> Result<()> {
    let mut proxy = Kamailio::builder().start()?;
    let mut bob = Baresip::builder("bob").proxy(proxy.addr()).start()?;
    bob.dial(&proxy.aor("nobody"))?;
    proxy.wait_trace("notfound", "INVITE", EVENT)?;
    let closed = bob.wait_event("CALL_CLOSED", EVENT)?;
    assert!(closed.param.contains("404"), "{closed:?}");
    Ok(())
}

#[test]
fn call_through_kamailio_over_tcp() -> Result<()> {
    let mut proxy = Kamailio::builder().tcp().start()?;
    let mut alice = Baresip::builder("alice")
        .proxy(proxy.addr())
        .tcp()
        .register()
        .start()?;
    let mut bob = Baresip::builder("bob").proxy(proxy.addr()).tcp().start()?;
    let reg = proxy.wait_trace("register", "REGISTER", EVENT)?;
    assert_eq!(reg.transport, "tcp", "{reg:?}");
    bob.dial(&format!("{};transport=tcp", proxy.aor("alice")))?;
    let invite = proxy.wait_trace("initial", "INVITE", EVENT)?;
    assert!(
        invite.target.contains("transport=tcp"),
        "alice's Contact should be a TCP one: {invite:?}"
    );
    alice.wait_event("CALL_ESTABLISHED", EVENT)?;
    bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    bob.hangup()?;
    let bye = proxy.wait_trace("loose", "BYE", EVENT)?;
    assert_eq!(bye.transport, "tcp", "{bye:?}");
    alice.wait_event("CALL_CLOSED", EVENT)?;
    Ok(())
}

#[test]
fn manual_answer_and_reject() -> Result<()> {
    let mut alice = Baresip::builder("alice").start()?;
    let mut bob = Baresip::builder("bob")
        .answer_mode(AnswerMode::Manual)
        .start()?;

    alice.dial(&bob.direct_uri())?;
    bob.wait_event("CALL_INCOMING", EVENT)?;
    alice.wait_event("CALL_RINGING", EVENT)?;
    bob.answer()?;
    alice.wait_event("CALL_ESTABLISHED", EVENT)?;
    alice.hangup()?;
    alice.wait_event("CALL_CLOSED", EVENT)?;
    bob.wait_event("CALL_CLOSED", EVENT)?;

    // Hanging up a ringing call rejects it.
    alice.dial(&bob.direct_uri())?;
    bob.wait_event("CALL_INCOMING", EVENT)?;
    bob.hangup()?;
    let closed = alice.wait_event("CALL_CLOSED", EVENT)?;
    assert_eq!(
        closed.param, "486 Rejected",
        "baresip 1.0 rejects a ringing call it hangs up with 486"
    );
    Ok(())
}
