//! Git's wire protocol as bytes, without the network: pkt-lines, the protocol-v2 commands
//! `ls-refs` and `fetch` of `git-upload-pack`, and the (version 0) `git-receive-pack`
//! request and its status report. [`crate::remote`] sends these over HTTP.
//!
//! References: git's `gitprotocol-common(5)`, `gitprotocol-v2(5)`, `gitprotocol-pack(5)`
//! and `gitprotocol-http(5)`.

use crate::object::ObjectId;

/// The largest pkt-line, header included (`LARGE_PACKET_MAX`).
pub const MAX_PKT: usize = 65520;
/// What this client calls itself (`agent=`).
pub const AGENT: &str = concat!("lockgate-git/", env!("CARGO_PKG_VERSION"));

/// One pkt-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt<'a> {
    /// `0000`: the end of a message.
    Flush,
    /// `0001`: the end of a section.
    Delim,
    /// `0002`: the end of a response (stateless connections).
    ResponseEnd,
    /// A line's payload (with its newline, if any).
    Data(&'a [u8]),
}

/// Reads pkt-lines one after another from a buffer.
pub struct PktReader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> PktReader<'a> {
    /// Reads `data` from its start.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.at..]
    }

    /// The next pkt-line, `Ok(None)` at the end of the buffer; an error when the buffer
    /// ends inside one or a length is not four hex digits.
    pub fn next_pkt(&mut self) -> Result<Option<Pkt<'a>>, String> {
        if self.at == self.data.len() {
            return Ok(None);
        }
        let Some(head) = self.data.get(self.at..self.at + 4) else {
            return Err(format!(
                "the answer ends inside a pkt-line header (after {} bytes)",
                self.at
            ));
        };
        let len = std::str::from_utf8(head)
            .ok()
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                format!(
                    "not a pkt-line at byte {}: {:?}",
                    self.at,
                    String::from_utf8_lossy(head)
                )
            })?;
        let pkt = match len {
            0 => Pkt::Flush,
            1 => Pkt::Delim,
            2 => Pkt::ResponseEnd,
            3 => return Err(format!("invalid pkt-line length 3 at byte {}", self.at)),
            n if n > MAX_PKT => {
                return Err(format!(
                    "pkt-line of {n} bytes at byte {} (at most {MAX_PKT})",
                    self.at
                ));
            }
            n => {
                let body = self
                    .data
                    .get(self.at + 4..self.at + n)
                    .ok_or_else(|| {
                        format!(
                            "the answer ends inside a pkt-line (at byte {}, {n} bytes announced, {} left)",
                            self.at,
                            self.data.len() - self.at
                        )
                    })?;
                self.at += n - 4;
                Pkt::Data(body)
            }
        };
        self.at += 4;
        Ok(Some(pkt))
    }

    /// The next pkt-line, which must be there.
    pub fn expect_pkt(&mut self) -> Result<Pkt<'a>, String> {
        self.next_pkt()?
            .ok_or_else(|| "the answer ends early (a pkt-line was expected)".to_string())
    }
}

/// Appends `line` as a pkt-line.
pub fn write_pkt(out: &mut Vec<u8>, line: &[u8]) {
    debug_assert!(line.len() + 4 <= MAX_PKT);
    out.extend_from_slice(format!("{:04x}", line.len() + 4).as_bytes());
    out.extend_from_slice(line);
}

/// Appends a text line (a newline is added) as a pkt-line.
fn write_line(out: &mut Vec<u8>, line: &str) {
    write_pkt(out, format!("{line}\n").as_bytes());
}

/// The text of a data line without its trailing newline.
fn text(line: &[u8]) -> Result<&str, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    std::str::from_utf8(line).map_err(|_| "a protocol line is not UTF-8".to_string())
}

fn parse_id(text: &str, what: &str) -> Result<ObjectId, String> {
    ObjectId::from_hex(text).ok_or_else(|| format!("{what}: `{text}` is not a SHA-1 object id"))
}

// ------------------------------------------------------------------ capabilities (v2)

/// What `GET …/info/refs?service=git-upload-pack` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The capability lines after `version 2` (`ls-refs`, `fetch=shallow …`, …).
    pub lines: Vec<String>,
}

impl Capabilities {
    /// Parses a capability advertisement. A server that does not speak version 2 is an
    /// error saying so.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let mut reader = PktReader::new(body);
        let mut first = reader.expect_pkt()?;
        // Some servers (and git before 2.x for v0) start with `# service=…` and a flush.
        if let Pkt::Data(line) = first
            && line.starts_with(b"# service=")
        {
            match reader.expect_pkt()? {
                Pkt::Flush => {}
                other => {
                    return Err(format!(
                        "expected a flush after `# service=`, got {other:?}"
                    ));
                }
            }
            first = reader.expect_pkt()?;
        }
        match first {
            Pkt::Data(line) if text(line)? == "version 2" => {}
            Pkt::Data(_) => {
                return Err("the server does not speak git protocol version 2 (it answered with a version 0 reference list); Lockgate fetches with version 2, which git servers have spoken since git 2.18 (2018)".into());
            }
            other => return Err(format!("expected `version 2`, got {other:?}")),
        }
        let mut lines = Vec::new();
        loop {
            match reader.expect_pkt()? {
                Pkt::Flush => break,
                Pkt::Data(line) => lines.push(text(line)?.to_string()),
                other => return Err(format!("unexpected {other:?} in the capabilities")),
            }
        }
        Ok(Self { lines })
    }

    /// The value of capability `name` (`fetch=shallow filter` → `Some("shallow filter")`,
    /// `ls-refs` → `Some("")`), `None` when not advertised.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|line| match line.split_once('=') {
                Some((key, value)) if key == name => Some(value),
                None if line == name => Some(""),
                _ => None,
            })
    }

    /// Whether `fetch` takes `feature` (`shallow`, `filter`, …).
    pub fn fetch_has(&self, feature: &str) -> bool {
        self.get("fetch")
            .is_some_and(|v| v.split(' ').any(|f| f == feature))
    }
}

// ------------------------------------------------------------------ ls-refs (v2)

/// One reference `ls-refs` listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// `refs/heads/main`, `refs/tags/v1.0`, `HEAD`.
    pub name: String,
    /// What it points to.
    pub id: ObjectId,
    /// For an annotated tag: the commit it points to (`peeled:`).
    pub peeled: Option<ObjectId>,
    /// For a symbolic ref: its target (`symref-target:`).
    pub symref_target: Option<String>,
}

impl RemoteRef {
    /// The commit this ref designates (the peeled object of an annotated tag).
    pub fn commit(&self) -> ObjectId {
        self.peeled.unwrap_or(self.id)
    }
}

/// The body of an `ls-refs` request for the refs starting with one of `prefixes`.
pub fn ls_refs_request(prefixes: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    write_line(&mut out, "command=ls-refs");
    write_line(&mut out, &format!("agent={AGENT}"));
    out.extend_from_slice(b"0001");
    write_line(&mut out, "peel");
    write_line(&mut out, "symrefs");
    for prefix in prefixes {
        write_line(&mut out, &format!("ref-prefix {prefix}"));
    }
    out.extend_from_slice(b"0000");
    out
}

/// Parses the answer to `ls-refs`.
pub fn parse_ls_refs(body: &[u8]) -> Result<Vec<RemoteRef>, String> {
    let mut reader = PktReader::new(body);
    let mut refs = Vec::new();
    loop {
        match reader.expect_pkt()? {
            Pkt::Flush => return Ok(refs),
            Pkt::Data(line) => {
                let line = text(line)?;
                if let Some(message) = line.strip_prefix("ERR ") {
                    return Err(format!("the server refused: {message}"));
                }
                let mut words = line.split(' ');
                let id = parse_id(words.next().unwrap_or_default(), "ls-refs")?;
                let name = words
                    .next()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| format!("ls-refs: a line without a ref name: `{line}`"))?
                    .to_string();
                let mut r = RemoteRef {
                    name,
                    id,
                    peeled: None,
                    symref_target: None,
                };
                for attribute in words {
                    if let Some(peeled) = attribute.strip_prefix("peeled:") {
                        r.peeled = Some(parse_id(peeled, "ls-refs peeled")?);
                    } else if let Some(target) = attribute.strip_prefix("symref-target:") {
                        r.symref_target = Some(target.to_string());
                    }
                }
                refs.push(r);
            }
            other => return Err(format!("unexpected {other:?} in the ls-refs answer")),
        }
    }
}

// ------------------------------------------------------------------ fetch (v2)

/// What to ask `fetch` for.
#[derive(Debug, Default, Clone)]
pub struct FetchRequest {
    /// Commits wanted.
    pub wants: Vec<ObjectId>,
    /// Commits the client already has (with everything they reach).
    pub haves: Vec<ObjectId>,
    /// The client's shallow boundary (commits whose parents it lacks).
    pub shallow: Vec<ObjectId>,
    /// Only this many commits of history from each want (`deepen`).
    pub depth: Option<u32>,
}

impl FetchRequest {
    /// The request body. It always says `done`: one round trip, the server sends the pack at
    /// once.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_line(&mut out, "command=fetch");
        write_line(&mut out, &format!("agent={AGENT}"));
        out.extend_from_slice(b"0001");
        write_line(&mut out, "no-progress");
        write_line(&mut out, "ofs-delta");
        for id in &self.wants {
            write_line(&mut out, &format!("want {id}"));
        }
        for id in &self.haves {
            write_line(&mut out, &format!("have {id}"));
        }
        for id in &self.shallow {
            write_line(&mut out, &format!("shallow {id}"));
        }
        if let Some(depth) = self.depth {
            write_line(&mut out, &format!("deepen {depth}"));
        }
        write_line(&mut out, "done");
        out.extend_from_slice(b"0000");
        out
    }
}

/// What `fetch` answered.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The pack, as the server sent it (not checked yet).
    pub pack: Vec<u8>,
    /// Commits that are now shallow on the client.
    pub shallow: Vec<ObjectId>,
    /// Commits that are no longer shallow.
    pub unshallow: Vec<ObjectId>,
}

/// Parses the answer to `fetch` (sent with `done`): an optional `shallow-info` section,
/// then `packfile` with the pack on side-band 1. A message on side-band 3 or an `ERR` line
/// is the server's error; an answer that stops early says where.
pub fn parse_fetch(body: &[u8]) -> Result<Fetched, String> {
    let mut reader = PktReader::new(body);
    let mut out = Fetched::default();
    loop {
        let header = match reader.expect_pkt()? {
            Pkt::Data(line) => text(line)?.to_string(),
            other => return Err(format!("expected a section header, got {other:?}")),
        };
        match header.as_str() {
            "packfile" => break,
            "acknowledgments" | "shallow-info" | "wanted-refs" => loop {
                match reader.expect_pkt()? {
                    Pkt::Delim => break,
                    Pkt::Flush => {
                        return Err(format!(
                            "the `{header}` section ended the answer: no pack was sent"
                        ));
                    }
                    Pkt::Data(line) => {
                        let line = text(line)?;
                        if let Some(id) = line.strip_prefix("shallow ") {
                            out.shallow.push(parse_id(id, "shallow-info")?);
                        } else if let Some(id) = line.strip_prefix("unshallow ") {
                            out.unshallow.push(parse_id(id, "shallow-info")?);
                        }
                    }
                    Pkt::ResponseEnd => return Err("the answer ended before its pack".into()),
                }
            },
            other if other.starts_with("ERR ") => {
                return Err(format!("the server refused: {}", &other[4..]));
            }
            other => return Err(format!("unexpected section `{other}` in the fetch answer")),
        }
    }
    loop {
        let pkt = reader.next_pkt().map_err(|why| {
            format!(
                "{why}: the pack is incomplete (after {} bytes), the connection was cut",
                out.pack.len()
            )
        })?;
        match pkt {
            None => {
                return Err(format!(
                    "the answer ends inside the pack (after {} bytes of pack, no closing flush): the connection was cut",
                    out.pack.len()
                ));
            }
            Some(Pkt::Flush | Pkt::ResponseEnd) => break,
            Some(Pkt::Delim) => return Err("unexpected delimiter inside the pack".into()),
            Some(Pkt::Data(line)) => match line.split_first() {
                Some((1, data)) => out.pack.extend_from_slice(data),
                Some((2, _)) => {}
                Some((3, message)) => {
                    return Err(format!(
                        "the server failed while sending the pack: {}",
                        String::from_utf8_lossy(message).trim_end()
                    ));
                }
                _ => return Err("a pack line on an unknown side-band".into()),
            },
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ receive-pack (v0)

/// What `GET …/info/refs?service=git-receive-pack` answered: the refs and capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advertised {
    /// `(name, id)` of each ref.
    pub refs: Vec<(String, ObjectId)>,
    /// Capabilities after the first ref's NUL.
    pub capabilities: Vec<String>,
}

impl Advertised {
    /// Parses a version-0 reference advertisement (with the smart HTTP `# service=` line).
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let mut reader = PktReader::new(body);
        let mut out = Self::default();
        while let Some(pkt) = reader.next_pkt()? {
            let line = match pkt {
                Pkt::Data(line) => line,
                Pkt::Flush => continue,
                other => return Err(format!("unexpected {other:?} in the ref list")),
            };
            if line.starts_with(b"# service=") {
                continue;
            }
            if line.starts_with(b"version ") {
                // `version 1` may precede the refs.
                continue;
            }
            let (refline, caps) = match line.iter().position(|&b| b == 0) {
                Some(nul) => (&line[..nul], Some(&line[nul + 1..])),
                None => (line, None),
            };
            if let Some(caps) = caps {
                out.capabilities = text(caps)?
                    .split(' ')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            let refline = text(refline)?;
            let (id, name) = refline
                .split_once(' ')
                .ok_or_else(|| format!("a ref line without a name: `{refline}`"))?;
            let id = parse_id(id, "receive-pack refs")?;
            // An empty repository advertises `capabilities^{}` with the zero id.
            if name != "capabilities^{}" {
                out.refs.push((name.to_string(), id));
            }
        }
        Ok(out)
    }

    /// The id of ref `name`.
    pub fn get(&self, name: &str) -> Option<ObjectId> {
        self.refs.iter().find(|(n, _)| n == name).map(|(_, id)| *id)
    }

    /// Whether the server advertised capability `name`.
    pub fn has(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c == name || c.split_once('=').is_some_and(|(k, _)| k == name))
    }
}

/// The body of a push updating `name` from `old` (`None`: create it) to `new`, carrying
/// `pack`.
pub fn receive_pack_request(
    name: &str,
    old: Option<ObjectId>,
    new: ObjectId,
    side_band: bool,
    pack: &[u8],
) -> Vec<u8> {
    let old = old.map_or_else(|| "0".repeat(40), |id| id.to_string());
    let mut caps = String::from("report-status");
    if side_band {
        caps.push_str(" side-band-64k");
    }
    caps.push_str(&format!(" agent={AGENT}"));
    let mut out = Vec::new();
    write_pkt(&mut out, format!("{old} {new} {name}\0{caps}\n").as_bytes());
    out.extend_from_slice(b"0000");
    out.extend_from_slice(pack);
    out
}

/// What the server said of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStatus {
    /// The ref was updated.
    Ok,
    /// The ref was not updated, for this reason (`fetch first`, `non-fast-forward`,
    /// `failed to lock`, a hook's refusal, …).
    Rejected(String),
}

/// Parses a `report-status` answer for ref `name` (side-band wrapped or not).
pub fn parse_report_status(body: &[u8], name: &str, side_band: bool) -> Result<PushStatus, String> {
    let mut report = Vec::new();
    let mut messages = String::new();
    if side_band {
        let mut reader = PktReader::new(body);
        while let Some(pkt) = reader.next_pkt()? {
            match pkt {
                Pkt::Flush => break,
                Pkt::Data(line) => match line.split_first() {
                    Some((1, data)) => report.extend_from_slice(data),
                    Some((2, data)) => messages.push_str(&String::from_utf8_lossy(data)),
                    Some((3, data)) => {
                        return Err(format!(
                            "the server failed: {}",
                            String::from_utf8_lossy(data).trim_end()
                        ));
                    }
                    _ => return Err("a report line on an unknown side-band".into()),
                },
                other => return Err(format!("unexpected {other:?} in the push answer")),
            }
        }
    } else {
        report = body.to_vec();
    }
    let mut reader = PktReader::new(&report);
    let unpack = match reader.next_pkt()? {
        Some(Pkt::Data(line)) => text(line)?.to_string(),
        _ => {
            return Err(format!(
                "the push answer has no status{}",
                hook_output(&messages)
            ));
        }
    };
    if unpack != "unpack ok" {
        return Err(format!(
            "the server could not unpack the pushed objects: {}{}",
            unpack.strip_prefix("unpack ").unwrap_or(&unpack),
            hook_output(&messages)
        ));
    }
    while let Some(pkt) = reader.next_pkt()? {
        let Pkt::Data(line) = pkt else { break };
        let line = text(line)?;
        if line == format!("ok {name}") {
            return Ok(PushStatus::Ok);
        }
        if let Some(rest) = line.strip_prefix(&format!("ng {name} ")) {
            return Ok(PushStatus::Rejected(format!(
                "{rest}{}",
                hook_output(&messages)
            )));
        }
    }
    Err(format!(
        "the push answer says nothing of {name}{}",
        hook_output(&messages)
    ))
}

/// The server's side-band 2 messages (hooks' output), as a suffix of an error.
fn hook_output(messages: &str) -> String {
    let trimmed = messages.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        let short: String = trimmed.chars().take(500).collect();
        format!(" (the server said: {short})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkts(lines: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines {
            match *line {
                "0000" | "0001" | "0002" => out.extend_from_slice(line.as_bytes()),
                _ => write_pkt(&mut out, line.as_bytes()),
            }
        }
        out
    }

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn pkt_lines_round_trip_and_errors() {
        let mut out = Vec::new();
        write_line(&mut out, "hello");
        assert_eq!(out, b"000ahello\n");
        let mut reader = PktReader::new(b"000ahello\n00010000");
        assert_eq!(reader.next_pkt().unwrap(), Some(Pkt::Data(b"hello\n")));
        assert_eq!(reader.next_pkt().unwrap(), Some(Pkt::Delim));
        assert_eq!(reader.next_pkt().unwrap(), Some(Pkt::Flush));
        assert_eq!(reader.next_pkt().unwrap(), None);
        assert!(
            PktReader::new(b"000ahel")
                .next_pkt()
                .unwrap_err()
                .contains("ends inside")
        );
        assert!(
            PktReader::new(b"zzzz")
                .next_pkt()
                .unwrap_err()
                .contains("not a pkt-line")
        );
        assert!(PktReader::new(b"0003").next_pkt().is_err());
        assert!(
            PktReader::new(b"00")
                .next_pkt()
                .unwrap_err()
                .contains("header")
        );
    }

    #[test]
    fn capabilities_of_a_version_2_server() {
        let body = pkts(&[
            "version 2\n",
            "agent=git/2.47.3\n",
            "ls-refs=unborn\n",
            "fetch=shallow wait-for-done filter\n",
            "0000",
        ]);
        let caps = Capabilities::parse(&body).unwrap();
        assert_eq!(caps.get("ls-refs"), Some("unborn"));
        assert!(caps.fetch_has("shallow"));
        assert!(!caps.fetch_has("sideband-all"));
        assert_eq!(caps.get("object-format"), None);
        // With the `# service=` preamble.
        let mut with_service = pkts(&["# service=git-upload-pack\n", "0000"]);
        with_service.extend_from_slice(&body);
        assert_eq!(Capabilities::parse(&with_service).unwrap(), caps);
        // A version 0 server.
        let v0 = pkts(&[
            "# service=git-upload-pack\n",
            "0000",
            &format!("{A} HEAD\0multi_ack\n"),
            "0000",
        ]);
        assert!(
            Capabilities::parse(&v0)
                .unwrap_err()
                .contains("does not speak git protocol version 2")
        );
    }

    #[test]
    fn ls_refs_request_and_answer() {
        let body = ls_refs_request(&["refs/heads/main"]);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("0014command=ls-refs\n"));
        assert!(text.ends_with("00010009peel\n000csymrefs\n001fref-prefix refs/heads/main\n0000"));
        let answer = pkts(&[
            &format!("{A} HEAD symref-target:refs/heads/main\n"),
            &format!("{A} refs/heads/main\n"),
            &format!("{B} refs/tags/v1 peeled:{A}\n"),
            "0000",
        ]);
        let refs = parse_ls_refs(&answer).unwrap();
        assert_eq!(refs.len(), 3);
        assert_eq!(refs[0].symref_target.as_deref(), Some("refs/heads/main"));
        assert_eq!(refs[2].commit().to_string(), A);
        assert_eq!(refs[2].id.to_string(), B);
        assert!(
            parse_ls_refs(&pkts(&["ERR no such repository\n"]))
                .unwrap_err()
                .contains("no such repository")
        );
        assert!(
            parse_ls_refs(&pkts(&[&format!("{A} refs/heads/main\n")]))
                .unwrap_err()
                .contains("ends early")
        );
    }

    #[test]
    fn fetch_request_and_answer() {
        let request = FetchRequest {
            wants: vec![ObjectId::from_hex(A).unwrap()],
            haves: vec![ObjectId::from_hex(B).unwrap()],
            shallow: vec![],
            depth: Some(1),
        };
        let text = String::from_utf8(request.body()).unwrap();
        assert!(text.contains(&format!("want {A}\n")));
        assert!(text.contains(&format!("have {B}\n")));
        assert!(text.contains("deepen 1\n"));
        assert!(text.ends_with("0009done\n0000"));

        let mut answer = pkts(&[
            "shallow-info\n",
            &format!("shallow {A}\n"),
            "0001",
            "packfile\n",
        ]);
        write_pkt(&mut answer, b"\x02progress\n");
        write_pkt(&mut answer, b"\x01PACK");
        write_pkt(&mut answer, b"\x01rest");
        answer.extend_from_slice(b"0000");
        let fetched = parse_fetch(&answer).unwrap();
        assert_eq!(fetched.pack, b"PACKrest");
        assert_eq!(fetched.shallow, vec![ObjectId::from_hex(A).unwrap()]);

        // Cut inside the pack.
        let cut = &answer[..answer.len() - 6];
        assert!(
            parse_fetch(cut)
                .unwrap_err()
                .contains("the connection was cut")
        );
        let cut = &answer[..answer.len() - 4];
        assert!(parse_fetch(cut).unwrap_err().contains("no closing flush"));
        // An error on side-band 3.
        let mut failing = pkts(&["packfile\n"]);
        write_pkt(&mut failing, b"\x03upload-pack: not our ref\n");
        assert!(parse_fetch(&failing).unwrap_err().contains("not our ref"));
    }

    #[test]
    fn receive_pack_advertisement_request_and_report() {
        let adv = pkts(&[
            "# service=git-receive-pack\n",
            "0000",
            &format!("{A} refs/heads/main\0report-status side-band-64k delete-refs agent=git/2\n"),
            &format!("{B} refs/heads/other\n"),
            "0000",
        ]);
        let adv = Advertised::parse(&adv).unwrap();
        assert_eq!(adv.get("refs/heads/main").unwrap().to_string(), A);
        assert_eq!(adv.get("refs/heads/other").unwrap().to_string(), B);
        assert!(adv.has("side-band-64k") && adv.has("agent") && !adv.has("atomic"));
        let empty = pkts(&[
            "# service=git-receive-pack\n",
            "0000",
            &format!("{} capabilities^{{}}\0report-status\n", "0".repeat(40)),
            "0000",
        ]);
        let empty = Advertised::parse(&empty).unwrap();
        assert!(empty.refs.is_empty() && empty.has("report-status"));

        let body = receive_pack_request(
            "refs/heads/main",
            Some(ObjectId::from_hex(A).unwrap()),
            ObjectId::from_hex(B).unwrap(),
            true,
            b"PACK",
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(&format!(
            "{A} {B} refs/heads/main\0report-status side-band-64k agent="
        )));
        assert!(text.ends_with("0000PACK"));

        let report = pkts(&["unpack ok\n", "ok refs/heads/main\n", "0000"]);
        assert_eq!(
            parse_report_status(&report, "refs/heads/main", false).unwrap(),
            PushStatus::Ok
        );
        let mut banded = Vec::new();
        let mut inner = pkts(&["unpack ok\n", "ng refs/heads/main fetch first\n", "0000"]);
        inner.insert(0, 1);
        write_pkt(&mut banded, &inner);
        write_pkt(&mut banded, b"\x02hook: nope\n");
        banded.extend_from_slice(b"0000");
        assert_eq!(
            parse_report_status(&banded, "refs/heads/main", true).unwrap(),
            PushStatus::Rejected("fetch first (the server said: hook: nope)".into())
        );
        let bad = pkts(&["unpack index-pack abnormal exit\n", "0000"]);
        assert!(
            parse_report_status(&bad, "refs/heads/main", false)
                .unwrap_err()
                .contains("could not unpack")
        );
    }
}
