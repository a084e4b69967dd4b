//! Differential check: the SDP parser of this tree against main's (7cbc175),
//! on the seed descriptions and on many mutations of them (random byte
//! edits, insertions of the bytes the grammar cares about, deletions,
//! truncations, line swaps and duplications), in strict and lenient mode and
//! with tight limits. Everything observable through the public API is
//! rendered to text on both sides and compared: the error (line and kind) or
//! the lines, origin, connection, timing, every media section with its typed
//! attributes, the owned form, and the RFC 3264 answer.
//!
//! Run through `run.sh`: `./run.sh [mutations]`.

use std::fmt::Write as _;

/// Renders everything the public API shows of one parse, for one crate
/// (the old and the new one have the same API but distinct types).
macro_rules! describe {
    ($krate:ident, $data:expr, $limits:expr) => {{
        use $krate::sdp::*;
        let mut s = String::new();
        match parse($data, &$limits) {
            Err(e) => {
                let _ = write!(s, "error {} {:?} {}", e.line, e.kind, e);
            }
            Ok(d) => {
                let _ = writeln!(s, "raw {:?}", d.as_str());
                for l in d.lines() {
                    let _ = writeln!(s, "line {} {:?} {:?}", l.kind, l.value, l.ending);
                }
                let _ = writeln!(
                    s,
                    "session {:?} {:?} {:?} {:?} {:?} {}",
                    d.origin(),
                    d.session_name(),
                    d.connection(),
                    d.timing(),
                    d.direction(),
                    d.media_count()
                );
                for b in d.bandwidths() {
                    let _ = writeln!(s, "bw {b:?}");
                }
                for a in d.attributes() {
                    let _ = writeln!(s, "attr {a:?} {:?}", a.typed());
                }
                for m in d.media() {
                    let _ = writeln!(
                        s,
                        "media {} {:?} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?}",
                        m.line_number(),
                        m.media_line(),
                        m.connection(),
                        m.lines().len(),
                        m.direction(),
                        m.effective_direction(),
                        m.ptime(),
                        m.maxptime(),
                        m.rtcp(),
                        m.mid()
                    );
                    for f in m.formats() {
                        let pt = f.parse::<u8>().unwrap_or(255);
                        let _ = writeln!(s, "fmt {f:?} {:?} {:?}", m.rtpmap(pt), m.fmtp(f));
                    }
                    for b in m.bandwidths() {
                        let _ = writeln!(s, "mbw {b:?}");
                    }
                    for a in m.typed_attributes() {
                        let _ = writeln!(s, "mattr {a:?}");
                    }
                }
                let mut out = Vec::new();
                d.write_to(&mut out);
                let _ = writeln!(s, "write {}", out == $data);
                let owned = Sdp::from_view(&d);
                let _ = writeln!(s, "owned {owned:?} {:?}", owned.to_bytes() == $data);
                let caps = MediaCapabilities::default_audio();
                let local = LocalMedia {
                    addr: "192.0.2.20".parse().expect("a literal address"),
                    rtp_port: 6000,
                    session_id: 77,
                    session_version: 77,
                };
                match create_answer(&d, &caps, caps.direction, &local) {
                    Ok((a, n)) => {
                        let _ = writeln!(
                            s,
                            "answer {:?} {n:?}",
                            String::from_utf8_lossy(&a.to_bytes())
                        );
                    }
                    Err(e) => {
                        let _ = writeln!(s, "answer error {e:?}");
                    }
                }
            }
        }
        let _ = writeln!(s, "owned parse {:?}", Sdp::parse_with($data, &$limits));
        s
    }};
}

/// The limits each input is parsed with: both modes, and tight limits so
/// that every limit error is reached.
macro_rules! limit_set {
    ($krate:ident) => {{
        use $krate::sdp::SdpLimits;
        let mut v = vec![SdpLimits::default(), SdpLimits::lenient()];
        for lenient in [false, true] {
            let base = if lenient {
                SdpLimits::lenient()
            } else {
                SdpLimits::default()
            };
            v.push(SdpLimits {
                max_lines: 9,
                max_attributes: 3,
                max_formats: 2,
                max_media: 1,
                ..base
            });
            v.push(SdpLimits {
                max_size: 200,
                max_lines: 14,
                max_attributes: 6,
                max_formats: 4,
                ..base
            });
        }
        v
    }};
}

/// xorshift64*: deterministic, so a failure is repeatable from its index.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes the grammar treats specially, inserted or substituted more often
/// than random ones.
const SPECIAL: &[&[u8]] = &[
    b" ", b"\t", b"\r", b"\n", b"\r\n", b"\0", b"/", b":", b"=", b"0", b"9", b"-", b"a=", b"c=",
    b"m=", b"t=", b"o=", b"s=", b"b=", b"r=", b"z=", b"k=", b"i=", b"x=", b"A", b"\xff",
    b"\xc3\xa9", b"  ", b"99999999999999999999", b"65536", b"4294967296", b"128", b"IP6",
    b"0.0.0.0", b"/127/3", b"a=sendonly\r\n", b"a=rtpmap:96 opus/48000/2\r\n",
    b"c=IN IP4 192.0.2.9\r\n", b"m=audio 0 RTP/AVP 0\r\n", b"t=0 0\r\n",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(v.len() + 1);
        match rng.below(9) {
            0 => {
                if at < v.len() {
                    v[at] = rng.next() as u8;
                }
            }
            1 => {
                if at < v.len() {
                    v.remove(at);
                }
            }
            2 => v.truncate(at),
            3 | 4 => {
                let s = SPECIAL[rng.below(SPECIAL.len())];
                v.splice(at..at, s.iter().copied());
            }
            5 => {
                let s = SPECIAL[rng.below(SPECIAL.len())];
                let end = (at + s.len()).min(v.len());
                v.splice(at..end, s.iter().copied());
            }
            6 | 7 => {
                // Swap, duplicate or drop whole lines.
                let mut lines: Vec<Vec<u8>> =
                    v.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                if lines.is_empty() {
                    continue;
                }
                let i = rng.below(lines.len());
                let j = rng.below(lines.len());
                match rng.below(3) {
                    0 => lines.swap(i, j),
                    1 => {
                        let l = lines[i].clone();
                        lines.insert(j, l);
                    }
                    _ => {
                        lines.remove(i);
                    }
                }
                v = lines.concat();
            }
            _ => {
                // CRLF to LF everywhere, or trailing blanks on one line.
                if rng.below(2) == 0 {
                    v = String::from_utf8_lossy(&v)
                        .replace("\r\n", "\n")
                        .into_bytes();
                } else if let Some(p) = v[at..].iter().position(|&b| b == b'\r') {
                    v.insert(at + p, b' ');
                }
            }
        }
    }
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = std::path::PathBuf::from(args.next().unwrap_or_else(|| "../../..".into()));
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for dir in [
        "sipparty-core/tests/data/sdp",
        "fuzz/seeds/sdp_parse",
        "fuzz/seeds/sdp_negotiate",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            eprintln!("missing seed directory {dir}");
            std::process::exit(2);
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            seeds.push(std::fs::read(&p).expect("a readable seed file"));
        }
    }
    // Small hand-written ones: every line type, multicast, repeats, zones.
    for s in [
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\ni=info\r\nu=http://x\r\ne=a@b\r\np=+1 555\r\n\
         c=IN IP4 233.252.0.1/127/3\r\nb=AS:64\r\nt=1 2\r\nr=7d 1h 0 25h\r\nt=3 4\r\n\
         z=2882844526 -1h 2898848070 0\r\nk=prompt\r\na=recvonly\r\n\
         m=audio 49170/2 RTP/AVP 0 8\r\ni=m\r\nc=IN IP6 ff00::1/3\r\nc=IN IP4 h\r\n\
         b=TIAS:64000\r\nk=clear:x\r\na=ptime:20\r\nm=video 0 RTP/AVP 31\r\n",
        "v=0\no=- 1 1 IN IP4 h\ns=\nt=0 0\nm=audio 1 RTP/AVP 0\n\n",
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0",
    ] {
        seeds.push(s.as_bytes().to_vec());
    }
    let old_limits = limit_set!(old);
    let new_limits = limit_set!(new);
    let mut rng = Rng(0x5D9_7E57_C0DE_1234);
    let mut checked = 0u64;
    let mut accepted = 0u64;
    let total = seeds.len() as u64 + n;
    for i in 0..total {
        let input = match seeds.get(i as usize) {
            Some(s) => s.clone(),
            None => {
                let seed = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, seed)
            }
        };
        for (lo, ln) in old_limits.iter().zip(&new_limits) {
            let a = describe!(old, &input[..], *lo);
            let b = describe!(new, &input[..], *ln);
            if a != b {
                eprintln!("MISMATCH on input {i} with {ln:?}: {:?}", String::from_utf8_lossy(&input));
                eprintln!("--- main\n{a}\n--- this tree\n{b}");
                std::process::exit(1);
            }
            if !a.starts_with("error") {
                accepted += 1;
            }
            checked += 1;
        }
    }
    println!(
        "{total} inputs ({} seeds, {n} mutations) x {} limit sets: {checked} parses identical, \
         {accepted} of them accepted",
        seeds.len(),
        new_limits.len()
    );
}
