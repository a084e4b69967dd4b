//! The SIP ladder, sngrep style: a column per party, one line per message
//! with an arrow from sender to receiver, the method or status on it, and
//! the time since the start.
//!
//! ```text
//!              alice                        bob
//!       127.0.0.1:40233              127.0.0.1:35561
//!  0.000 s           |---------- INVITE ---------->|
//!  0.001 s           |<------- 100 Trying ---------|
//! ```
//!
//! Messages come from the mio driver's trace events (see `logging`), so
//! every datagram actually sent or received is drawn, retransmissions
//! included.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Width of one party's column, in characters.
const COLUMN: usize = 30;
/// Width of the time stamp at the start of each line.
const TIME: usize = 10;

/// One SIP message seen by the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTrace {
    /// When it was seen.
    pub at: Instant,
    /// Sent (true) or received.
    pub out: bool,
    /// The remote address: destination when sent, source when received.
    pub peer: SocketAddr,
    /// `UDP`, `TCP`, `TLS`, when the driver says.
    pub transport: Option<String>,
    /// The start line (`INVITE sip:bob@... SIP/2.0`, `SIP/2.0 200 OK`).
    pub first_line: String,
}

/// A party on the ladder.
#[derive(Debug, Clone)]
struct Column {
    addr: SocketAddr,
    name: String,
}

/// The ladder being drawn: its columns and its clock.
#[derive(Debug)]
pub struct Ladder {
    start: Instant,
    /// Our own addresses (the sockets of this process), first columns.
    locals: Vec<Column>,
    /// Remote parties, in order of appearance.
    peers: Vec<Column>,
}

impl Ladder {
    /// An empty ladder whose clock starts at `start`.
    pub fn new(start: Instant) -> Self {
        Ladder {
            start,
            locals: Vec::new(),
            peers: Vec::new(),
        }
    }

    /// A party of this process (its SIP socket).
    pub fn local(mut self, name: &str, addr: SocketAddr) -> Self {
        self.locals.push(Column {
            addr,
            name: name.to_string(),
        });
        self
    }

    /// A remote party known in advance (others get a column when they
    /// first send or receive).
    pub fn peer(mut self, name: &str, addr: SocketAddr) -> Self {
        self.peers.push(Column {
            addr,
            name: name.to_string(),
        });
        self
    }

    fn columns(&self) -> impl Iterator<Item = &Column> {
        self.locals.iter().chain(self.peers.iter())
    }

    fn column_of(&self, addr: SocketAddr) -> Option<usize> {
        self.columns().position(|c| c.addr == addr)
    }

    /// The two header lines: names, then addresses, centred on the columns.
    pub fn header(&self) -> String {
        let mut names = " ".repeat(TIME);
        let mut addrs = " ".repeat(TIME);
        for c in self.columns() {
            names.push_str(&centre(&c.name, COLUMN));
            addrs.push_str(&centre(&c.addr.to_string(), COLUMN));
        }
        format!("{}\n{}", names.trim_end(), addrs.trim_end())
    }

    /// The line for one message, preceded by a new header if it brought a
    /// new party. None if it is the receiving side of a message already
    /// drawn as sent (both parties live in this process).
    pub fn draw(&mut self, t: &SipTrace) -> Option<String> {
        let local_peer = self.locals.iter().position(|c| c.addr == t.peer);
        let (from, to, mut out) = if t.out {
            // Sent to one of our own parties: the sender is the other one
            // (the demo has exactly two).
            let me = match local_peer {
                Some(dest) => (0..self.locals.len()).find(|&i| i != dest).unwrap_or(0),
                None => 0,
            };
            let mut text = String::new();
            let to = self.ensure_column(t.peer, &mut text);
            (me, to, text)
        } else {
            if local_peer.is_some() {
                return None;
            }
            let mut text = String::new();
            let from = self.ensure_column(t.peer, &mut text);
            (from, 0, text)
        };
        let secs = t.at.saturating_duration_since(self.start).as_secs_f64();
        let label = label(&t.first_line, t.transport.as_deref());
        out.push_str(&format!("{:>w$}", format!("{secs:.3} s"), w = TIME - 2));
        out.push_str("  ");
        out.push_str(self.arrow(from, to, &label).trim_end());
        Some(out)
    }

    /// The column of `addr`, adding it (and a fresh header into `text`)
    /// if new.
    fn ensure_column(&mut self, addr: SocketAddr, text: &mut String) -> usize {
        if let Some(i) = self.column_of(addr) {
            return i;
        }
        self.peers.push(Column {
            addr,
            name: String::new(),
        });
        text.push_str(&self.header());
        text.push('\n');
        self.locals.len() + self.peers.len() - 1
    }

    /// The diagram part of a line: a `|` per column and an arrow from
    /// column `from` to `to` with `label` in its middle.
    fn arrow(&self, from: usize, to: usize, label: &str) -> String {
        let n = self.locals.len() + self.peers.len();
        let mut line: Vec<char> = vec![' '; n * COLUMN];
        let centre_of = |i: usize| i * COLUMN + COLUMN / 2;
        for i in 0..n {
            line[centre_of(i)] = '|';
        }
        if from == to {
            // Nothing sensible to draw between a column and itself.
            return format!("{}  {label}", line.iter().collect::<String>());
        }
        let (lo, hi) = (centre_of(from.min(to)), centre_of(from.max(to)));
        for c in &mut line[lo + 1..hi] {
            *c = '-';
        }
        if to > from {
            line[hi - 1] = '>';
        } else {
            line[lo + 1] = '<';
        }
        // Room for the label between the arrow's ends, a dash each side.
        let room = hi - lo - 5;
        let text: Vec<char> = format!(" {} ", truncate(label, room)).chars().collect();
        let start = lo + 1 + (hi - lo - 1 - text.len()) / 2;
        line[start..start + text.len()].copy_from_slice(&text);
        line.into_iter().collect()
    }
}

/// What the arrow says: the method of a request, code and reason of a
/// response; the transport when it is not UDP.
fn label(first_line: &str, transport: Option<&str>) -> String {
    let mut words = first_line.split(' ');
    let first = words.next().unwrap_or("");
    let text = if first.starts_with("SIP/") {
        first_line[first.len()..].trim().to_string()
    } else {
        first.to_string()
    };
    match transport {
        Some(t) if !t.eq_ignore_ascii_case("udp") => format!("{text} ({t})"),
        _ => text,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}

fn centre(s: &str, width: usize) -> String {
    let s = truncate(s, width - 2);
    let len = s.chars().count();
    let left = (width - len) / 2;
    format!(
        "{}{}{}",
        " ".repeat(left),
        s,
        " ".repeat(width - len - left)
    )
}

/// Whether a ladder is being drawn (checked before decoding events).
static CAPTURING: AtomicBool = AtomicBool::new(false);
/// The ladder being drawn, printed to stdout as messages pass.
static LADDER: Mutex<Option<Ladder>> = Mutex::new(None);

/// Start drawing `ladder` on stdout (its header at once).
pub fn start(ladder: Ladder) {
    println!("{}", ladder.header());
    *LADDER.lock().unwrap_or_else(|p| p.into_inner()) = Some(ladder);
    CAPTURING.store(true, Ordering::Relaxed);
}

/// Stop drawing.
pub fn stop() {
    CAPTURING.store(false, Ordering::Relaxed);
    *LADDER.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Whether [`start`] was called and not [`stop`].
pub fn is_capturing() -> bool {
    CAPTURING.load(Ordering::Relaxed)
}

/// Draw one message (called by the tracing layer).
pub fn record(t: SipTrace) {
    let mut guard = LADDER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(line) = guard.as_mut().and_then(|l| l.draw(&t)) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn trace(start: Instant, ms: u64, out: bool, peer: &str, line: &str) -> SipTrace {
        SipTrace {
            at: start + Duration::from_millis(ms),
            out,
            peer: peer.parse().unwrap(),
            transport: Some("UDP".into()),
            first_line: line.into(),
        }
    }

    #[test]
    fn request_arrow_points_right_response_left() {
        let start = Instant::now();
        let mut l = Ladder::new(start)
            .local("alice", "127.0.0.1:5061".parse().unwrap())
            .peer("bob", "127.0.0.1:5062".parse().unwrap());
        let inv = l
            .draw(&trace(
                start,
                12,
                true,
                "127.0.0.1:5062",
                "INVITE sip:bob@127.0.0.1:5062 SIP/2.0",
            ))
            .unwrap();
        assert!(inv.trim_start().starts_with("0.012 s"), "{inv:?}");
        assert!(
            inv.contains("|-") && inv.contains(" INVITE ") && inv.contains("->|"),
            "{inv}"
        );
        let ok = l
            .draw(&trace(
                start,
                20,
                false,
                "127.0.0.1:5062",
                "SIP/2.0 180 Ringing",
            ))
            .unwrap();
        assert!(ok.contains("|<-") && ok.contains(" 180 Ringing "), "{ok}");
        // Arrows span from the first column's bar to the second's.
        assert_eq!(inv.find('|'), ok.find('|'));
        assert_eq!(inv.rfind('|'), ok.rfind('|'));
    }

    #[test]
    fn two_local_parties_draw_each_message_once() {
        let start = Instant::now();
        let a: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5062".parse().unwrap();
        let mut l = Ladder::new(start).local("alice", a).local("bob", b);
        // Bob sends 200 to alice: drawn right to left.
        let line = l
            .draw(&trace(start, 1, true, "127.0.0.1:5061", "SIP/2.0 200 OK"))
            .unwrap();
        assert!(line.contains("|<-") && line.contains("200 OK"), "{line}");
        // Alice receiving it is the same message: not drawn again.
        assert_eq!(
            l.draw(&trace(start, 2, false, "127.0.0.1:5062", "SIP/2.0 200 OK")),
            None
        );
    }

    #[test]
    fn unknown_peer_gets_a_column_and_a_new_header() {
        let start = Instant::now();
        let mut l = Ladder::new(start).local("me", "127.0.0.1:5061".parse().unwrap());
        let text = l
            .draw(&trace(
                start,
                0,
                true,
                "127.0.0.1:5999",
                "OPTIONS sip:x SIP/2.0",
            ))
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].contains("127.0.0.1:5999"), "{text}");
        assert!(lines[2].contains("OPTIONS"), "{text}");
        // Known now: no header the second time.
        let again = l
            .draw(&trace(start, 1, false, "127.0.0.1:5999", "SIP/2.0 200 OK"))
            .unwrap();
        assert_eq!(again.lines().count(), 1);
    }

    #[test]
    fn labels() {
        assert_eq!(label("SIP/2.0 486 Busy Here", None), "486 Busy Here");
        assert_eq!(label("BYE sip:a@b SIP/2.0", Some("TCP")), "BYE (TCP)");
        assert_eq!(label("ACK sip:a@b SIP/2.0", Some("UDP")), "ACK");
    }
}
