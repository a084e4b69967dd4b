//! sipparty against real peers (issue 7, section 3): baresip and Kamailio
//! on loopback, started by the harness in `tests/src`.
//!
//! Peers: `baresip` (Debian `baresip-core`) and `kamailio`, installed by
//! `scripts/install-deps`; a missing one fails the test naming it.
//!
//! The binary under test: `$SIPPARTY_BIN` if set, else the harness runs
//! `cargo build -p sipparty-cli --bin sipparty` and uses
//! `target/debug/sipparty` (see `sipparty_tests::sipparty`).
//!
//! The tests use the CLI of issue 7 section 2:
//! - `sipparty call TARGET [--from AOR] [--bind ADDR] [--proxy URI]
//!   [--duration SECS] [--auth USER:PASSWORD] [--tone HZ] [--dtmf DIGITS]`,
//!   exit 0 only if the call was established and ended cleanly;
//! - `sipparty listen [--bind ADDR] [--answer auto] [--tone HZ] [--calls N]
//!   [--auth USER:PASSWORD]`, exits after N calls;
//! - `sipparty register REGISTRAR --aor AOR [--contact URI] [--auth U:P]`;
//! - `sipparty options TARGET`, exit 0 on 2xx.
//!
//! The CLI's end-of-call summary carries the packet counts of the call's
//! media sockets as `sent=N` and `received=N` tokens
//! (`sipparty_tests::sipparty::packet_counts`), one line per call:
//! `sipparty: sent=101 received=99 packets, setup 4.1 ms, ...`.

use std::net::SocketAddr;
use std::thread::sleep;
use std::time::Duration;

use sipparty_tests::audio::Wav;
use sipparty_tests::ports::Proto;
use sipparty_tests::sipparty::{self, packet_counts, Sipparty};
use sipparty_tests::{ports, AnswerMode, Baresip, Kamailio, Result, RtpStats};

const EVENT: Duration = Duration::from_secs(5);
/// A `sipparty call --duration 2` must be over well within this.
const CALL_EXIT: Duration = Duration::from_secs(10);

/// A loopback address for sipparty to bind, free right now.
fn free_addr() -> Result<SocketAddr> {
    Ok(SocketAddr::from((
        [127, 0, 0, 1],
        ports::free_port("sipparty")?,
    )))
}

/// Waits until `sipparty listen` has bound its UDP socket on `addr`
/// (datagrams sent from then on wait in its socket buffer).
fn wait_listening(party: &mut Sipparty, addr: SocketAddr) -> Result<()> {
    ports::wait_bound(
        "sipparty listen",
        Proto::Udp,
        addr.port(),
        Duration::from_secs(5),
    )
    // Prefer sipparty's own words when it died (e.g. on its arguments).
    .map_err(|e| party.ensure_running().err().unwrap_or(e))
}

/// The peer's counters show audio both ways.
fn assert_two_way(who: &str, stats: &RtpStats) {
    assert!(
        stats.tx_packets >= 10,
        "{who} sent too few RTP packets: {stats:?}"
    );
    assert!(
        stats.rx_packets >= 10,
        "{who} received too few RTP packets: {stats:?}"
    );
    assert_eq!(stats.direction, "sendrecv", "{who}: {stats:?}");
}

/// `wav` carries mostly the tone at `hz`, and not the one at `not_hz`.
fn assert_tone(who: &str, wav: &Wav, hz: f64, not_hz: f64) {
    let (at, not_at) = (wav.tone_fraction(hz), wav.tone_fraction(not_hz));
    assert!(
        wav.seconds() > 0.5 && at > 0.5 && not_at < 0.05,
        "{who} received {:.2} s of audio with {at:.3} of its energy at {hz} Hz and {not_at:.3} at {not_hz} Hz",
        wav.seconds()
    );
}

/// sipparty's summary shows packets counted both ways.
fn assert_sipparty_counted(output: &str) {
    let (sent, received) = packet_counts(output).unwrap_or_else(|| {
        panic!("no sent=/received= packet counts in sipparty's output:\n{output}")
    });
    assert!(
        sent >= 10 && received >= 10,
        "sipparty sent {sent}, received {received}:\n{output}"
    );
}

/// Waits for a spawned sipparty to exit, expects success and returns what
/// it printed.
fn exited_ok(party: &mut Sipparty, what: &str) -> Result<String> {
    let out = party.wait(CALL_EXIT)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    Ok(text)
}

/// Sound both ways: baresip decoded sipparty's 1 kHz tone and sipparty
/// recorded baresip's 440 Hz tone into `received.wav` in its directory.
fn assert_tones_both_ways(bob: &Baresip, party: &Sipparty) -> Result<()> {
    assert_tone("baresip", &bob.received_audio()?, 1000.0, 440.0);
    assert_tone(
        "sipparty",
        &Wav::read(&party.dir().join("received.wav"))?,
        440.0,
        1000.0,
    );
    Ok(())
}

/// Runs the program and expects success.
fn sipparty_ok(args: &[&str]) -> Result<String> {
    let out = sipparty::run(args, CALL_EXIT)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`sipparty {}` failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    Ok(text)
}

#[test]
fn sipparty_binary_is_found_and_runs() -> Result<()> {
    let out = sipparty_ok(&["--version"])?;
    assert!(out.contains("sipparty"), "{out}");
    Ok(())
}

#[test]
fn sipparty_calls_baresip() -> Result<()> {
    let mut bob = Baresip::builder("bob").tone_hz(440).record().start()?;
    let bind = free_addr()?;
    let mut call = Sipparty::spawn(&[
        "call",
        &bob.direct_uri(),
        "--from",
        &format!("sip:alice@{bind}"),
        "--bind",
        &bind.to_string(),
        "--duration",
        "2",
        "--tone",
        "1000",
        "--record",
        "received.wav",
    ])?;
    let established = bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    assert!(established.peer_uri.contains("alice"), "{established:?}");
    sleep(Duration::from_millis(1000));
    assert_two_way("baresip", &bob.rtp_stats()?);

    // sipparty hangs up after --duration.
    let closed = bob.wait_event("CALL_CLOSED", EVENT)?;
    assert_eq!(
        closed.param, "Connection reset by peer",
        "baresip should have received a BYE"
    );
    let text = exited_ok(&mut call, "sipparty call")?;
    assert_sipparty_counted(&text);
    assert_tones_both_ways(&bob, &call)?;
    Ok(())
}

#[test]
fn baresip_calls_sipparty_listen() -> Result<()> {
    let bind = free_addr()?;
    let mut listen = Sipparty::spawn(&[
        "listen",
        "--bind",
        &bind.to_string(),
        "--answer",
        "auto",
        "--calls",
        "1",
        "--tone",
        "1000",
        "--record",
        "received.wav",
    ])?;
    wait_listening(&mut listen, bind)?;
    let mut bob = Baresip::builder("bob").tone_hz(440).record().start()?;
    bob.dial(&format!("sip:alice@{bind}"))?;
    bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    sleep(Duration::from_millis(1000));
    assert_two_way("baresip", &bob.rtp_stats()?);

    bob.hangup()?;
    bob.wait_event("CALL_CLOSED", EVENT)?;
    let text = exited_ok(&mut listen, "sipparty listen --calls 1")?;
    assert_sipparty_counted(&text);
    assert_tones_both_ways(&bob, &listen)?;
    Ok(())
}

#[test]
fn sipparty_call_rejected_by_baresip_fails_with_the_status() -> Result<()> {
    let mut bob = Baresip::builder("bob")
        .answer_mode(AnswerMode::Manual)
        .start()?;
    let bind = free_addr()?.to_string();
    let mut call = Sipparty::spawn(&[
        "call",
        &bob.direct_uri(),
        "--bind",
        &bind,
        "--duration",
        "1",
    ])?;
    bob.wait_event("CALL_INCOMING", EVENT)?;
    // baresip rejects a ringing call it hangs up with "486 Rejected".
    bob.hangup()?;
    let out = call.wait(CALL_EXIT)?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rejected call must exit 1:\n{text}"
    );
    assert!(
        text.contains("error: 486"),
        "the reason should be printed as `error: 486 ...`:\n{text}"
    );
    Ok(())
}

#[test]
fn baresip_holds_and_resumes_sipparty() -> Result<()> {
    let bind = free_addr()?;
    let mut listen = Sipparty::spawn(&["listen", "--bind", &bind.to_string(), "--calls", "1"])?;
    wait_listening(&mut listen, bind)?;
    let mut bob = Baresip::builder("bob").start()?;
    bob.dial(&format!("sip:alice@{bind}"))?;
    bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    sleep(Duration::from_millis(500));

    // Hold: baresip offers sendonly; sipparty must answer recvonly and stop
    // sending (RFC 3264 s8.4), so baresip's receive counter stalls.
    bob.hold()?;
    bob.wait_event_where(
        "hold answer",
        |e| e.kind == "CALL_REMOTE_SDP" && e.param == "answer",
        EVENT,
    )?;
    sleep(Duration::from_millis(200));
    let held = bob.rtp_stats()?;
    assert_eq!(held.direction, "sendonly", "{held:?}");
    sleep(Duration::from_millis(500));
    let still = bob.rtp_stats()?;
    assert!(
        still.rx_packets <= held.rx_packets + 2,
        "sipparty kept sending on hold: {held:?} then {still:?}"
    );

    bob.resume()?;
    bob.wait_event_where(
        "resume answer",
        |e| e.kind == "CALL_REMOTE_SDP" && e.param == "answer",
        EVENT,
    )?;
    sleep(Duration::from_millis(500));
    let resumed = bob.rtp_stats()?;
    assert_eq!(resumed.direction, "sendrecv", "{resumed:?}");
    assert!(
        resumed.rx_packets >= still.rx_packets + 10,
        "sipparty did not resume sending: {resumed:?}"
    );

    bob.hangup()?;
    exited_ok(&mut listen, "sipparty")?;
    Ok(())
}

#[test]
fn sipparty_sends_dtmf_to_baresip() -> Result<()> {
    let mut bob = Baresip::builder("bob").start()?;
    let bind = free_addr()?;
    let mut call = Sipparty::spawn(&[
        "call",
        &bob.direct_uri(),
        "--bind",
        &bind.to_string(),
        "--duration",
        "2",
        "--dtmf",
        "19#",
    ])?;
    bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    // RFC 4733 telephone-events, one START per digit, in order.
    for digit in ["1", "9", "#"] {
        let e = bob.wait_event("CALL_DTMF_START", EVENT)?;
        assert_eq!(e.param, digit, "digits out of order or wrong");
    }
    bob.wait_event("CALL_CLOSED", EVENT)?;
    exited_ok(&mut call, "sipparty")?;
    Ok(())
}

/// sipparty registers its `listen` contact; baresip calls the AOR through
/// the proxy; in-dialog requests follow the Record-Route both ways.
fn sipparty_registered_behind(mut proxy: Kamailio, auth: Option<&str>) -> Result<()> {
    let bind = free_addr()?;
    let bind_s = bind.to_string();
    let mut listen = Sipparty::spawn(&["listen", "--bind", &bind_s, "--calls", "1"])?;
    wait_listening(&mut listen, bind)?;

    let registrar = format!("sip:{}", proxy.addr());
    let aor = proxy.aor("alice");
    let contact = format!("sip:alice@{bind}");
    let creds = auth.map(|a| format!("alice:{a}"));
    let mut args = vec!["register", &registrar, "--aor", &aor, "--contact", &contact];
    if let Some(c) = &creds {
        args.extend(["--auth", c]);
    }
    sipparty_ok(&args)?;
    if proxy.digest_auth() {
        proxy.wait_trace("challenge", "REGISTER", EVENT)?;
    }
    proxy.wait_trace("register", "REGISTER", EVENT)?;

    // The proxy knows bob with the same password (see the callers).
    let mut bob = Baresip::builder("bob").proxy(proxy.addr());
    if let Some(a) = auth {
        bob = bob.password(a);
    }
    let mut bob = bob.start()?;
    bob.dial(&aor)?;
    let invite = proxy.wait_trace("initial", "INVITE", EVENT)?;
    assert!(
        invite.target.contains(&bind.to_string()),
        "lookup should yield sipparty's contact: {invite:?}"
    );
    bob.wait_event("CALL_ESTABLISHED", EVENT)?;
    proxy.wait_trace("loose", "ACK", EVENT)?;
    sleep(Duration::from_millis(800));
    assert_two_way("baresip", &bob.rtp_stats()?);
    bob.hangup()?;
    let bye = proxy.wait_trace("loose", "BYE", EVENT)?;
    assert_eq!(bye.source, Some(bob.sip_addr()));
    exited_ok(&mut listen, "sipparty")?;
    Ok(())
}

/// sipparty calls a registered baresip through the proxy and hangs up: its
/// ACK and BYE must follow the route set (RFC 3261 s12.2.1.1).
fn sipparty_calls_through(mut proxy: Kamailio, auth: Option<&str>) -> Result<()> {
    let mut alice = Baresip::builder("alice").proxy(proxy.addr());
    if let Some(a) = auth {
        alice = alice.password(a);
    }
    let mut alice = alice.register().start()?;
    let bind = free_addr()?;
    let target = proxy.aor("alice");
    let from = proxy.aor("bob");
    let route = proxy.uri();
    let creds = auth.map(|a| format!("bob:{a}"));
    let bind_s = bind.to_string();
    let mut args = vec![
        "call",
        &target,
        "--from",
        &from,
        "--proxy",
        &route,
        "--bind",
        &bind_s,
        "--duration",
        "2",
    ];
    if let Some(c) = &creds {
        args.extend(["--auth", c]);
    }
    let mut call = Sipparty::spawn(&args)?;
    if proxy.digest_auth() {
        proxy.wait_trace("challenge", "INVITE", EVENT)?;
    }
    let invite = proxy.wait_trace("initial", "INVITE", EVENT)?;
    assert_eq!(invite.source, Some(bind));
    alice.wait_event("CALL_ESTABLISHED", EVENT)?;
    let ack = proxy.wait_trace("loose", "ACK", EVENT)?;
    assert_eq!(
        ack.source,
        Some(bind),
        "sipparty's ACK must go through the proxy"
    );
    sleep(Duration::from_millis(800));
    assert_two_way("baresip", &alice.rtp_stats()?);
    let bye = proxy.wait_trace("loose", "BYE", EVENT)?;
    assert_eq!(
        bye.source,
        Some(bind),
        "sipparty's BYE must go through the proxy"
    );
    alice.wait_event("CALL_CLOSED", EVENT)?;
    exited_ok(&mut call, "sipparty call via proxy")?;
    assert!(
        proxy.traces().iter().all(|t| t.route != "stray"),
        "{:?}",
        proxy.traces()
    );
    Ok(())
}

#[test]
fn sipparty_registers_with_kamailio_and_is_called() -> Result<()> {
    sipparty_registered_behind(Kamailio::builder().start()?, None)
}

#[test]
fn sipparty_registers_with_kamailio_digest_auth_and_is_called() -> Result<()> {
    let proxy = Kamailio::builder()
        .user("alice", "pw1")
        .user("bob", "pw1")
        .start()?;
    sipparty_registered_behind(proxy, Some("pw1"))
}

#[test]
fn sipparty_calls_through_kamailio_record_route() -> Result<()> {
    sipparty_calls_through(Kamailio::builder().start()?, None)
}

#[test]
fn sipparty_calls_through_kamailio_with_digest_auth() -> Result<()> {
    let proxy = Kamailio::builder()
        .user("alice", "pw2")
        .user("bob", "pw2")
        .start()?;
    sipparty_calls_through(proxy, Some("pw2"))
}

#[test]
fn sipparty_options_to_kamailio_and_baresip() -> Result<()> {
    let proxy = Kamailio::builder().start()?;
    let out = sipparty_ok(&["options", &format!("sip:{}", proxy.addr())])?;
    assert!(out.contains("200"), "{out}");
    let bob = Baresip::builder("bob")
        .answer_mode(AnswerMode::Manual)
        .start()?;
    let out = sipparty_ok(&["options", &bob.direct_uri()])?;
    // baresip 1.0 lists its methods in Allow.
    assert!(out.contains("INVITE"), "{out}");
    Ok(())
}

#[test]
fn sipparty_calls_through_kamailio_over_tcp() -> Result<()> {
    let mut proxy = Kamailio::builder().tcp().start()?;
    let mut alice = Baresip::builder("alice")
        .proxy(proxy.addr())
        .tcp()
        .register()
        .start()?;
    let target = format!("{};transport=tcp", proxy.aor("alice"));
    let from = proxy.aor("bob");
    let route = format!("{};transport=tcp", proxy.uri());
    let bind = free_addr()?.to_string();
    let args = [
        "call",
        &target,
        "--from",
        &from,
        "--proxy",
        &route,
        "--transport",
        "tcp",
        "--bind",
        &bind,
        "--duration",
        "1",
    ];
    let mut call = Sipparty::spawn(&args)?;
    let invite = proxy.wait_trace("initial", "INVITE", EVENT)?;
    assert_eq!(invite.transport, "tcp", "{invite:?}");
    alice.wait_event("CALL_ESTABLISHED", EVENT)?;
    let bye = proxy.wait_trace("loose", "BYE", EVENT)?;
    assert_eq!(bye.transport, "tcp", "{bye:?}");
    alice.wait_event("CALL_CLOSED", EVENT)?;
    exited_ok(&mut call, "sipparty")?;
    Ok(())
}

#[test]
fn sipparty_register_stay_unregisters_on_interrupt() -> Result<()> {
    let mut proxy = Kamailio::builder().start()?;
    let registrar = format!("sip:{}", proxy.addr());
    let aor = proxy.aor("alice");
    let bind = free_addr()?.to_string();
    let mut reg = Sipparty::spawn(&[
        "register",
        &registrar,
        "--aor",
        &aor,
        "--bind",
        &bind,
        "--expires",
        "60",
        "--stay",
    ])?;
    reg.wait_line("registered", EVENT)?;
    proxy.wait_trace("register", "REGISTER", EVENT)?;
    // SIGTERM, as Ctrl-C: the binding is removed before it exits.
    reg.interrupt(EVENT);
    let out = reg.output();
    assert!(out.contains("unregistered from"), "{out}");
    proxy.wait_trace("register", "REGISTER", EVENT)?;
    Ok(())
}
