//! A repository on a server, over git's smart HTTP protocol (`http://` and `https://`), and
//! its mirror in the resource's `/cache`.
//!
//! [`Remote`] sends the requests of [`crate::protocol`] through the SDK's HTTP client (the
//! host's `wasi:http`, under the step's network grants): protocol version 2 `ls-refs` and
//! `fetch` to `git-upload-pack`, version 0 to `git-receive-pack` (which has no version 2).
//! [`Mirror`] is a bare repository under `/cache/git-<digest of the URL>` that every fetch
//! adds a checked pack to, so a check asks only for what is new; the cache may be emptied
//! at any time, and then the next fetch starts over.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use lockgate_sdk::http::{HttpErrorKind, Request, Response, Url};
use lockgate_sdk::{CACHE_DIR, Error, IoResultExt};
use sha1::{Digest, Sha1};

use crate::object::ObjectId;
use crate::pack_index::index_pack;
use crate::protocol::{
    Advertised, Capabilities, FetchRequest, Fetched, PushStatus, RemoteRef, ls_refs_request,
    parse_fetch, parse_ls_refs, parse_report_status, receive_pack_request,
};
use crate::repo::Repo;

/// Time for a small exchange (capabilities, refs, a push's answer).
const SHORT: Duration = Duration::from_secs(60);
/// Time for a fetch (the host also cuts it at the invocation's deadline).
const LONG: Duration = Duration::from_secs(30 * 60);
/// The largest fetch answer kept: packs are read in memory (the sandbox caps memory, 256
/// MiB by default: raise `limits: {memory: …}` for larger repositories).
pub const MAX_PACK_BYTES: u64 = 1 << 30;

/// A repository on an HTTP(S) server.
pub struct Remote {
    /// The repository's URL as configured (for messages), without a trailing `/`.
    url: String,
    /// `Authorization` header value, if credentials were given.
    auth: Option<String>,
    /// What the server offers, asked once.
    capabilities: std::cell::OnceCell<Capabilities>,
}

impl Remote {
    /// The repository at `uri` (`https://host/owner/repo.git`), with basic credentials.
    /// `field` names the configuration field in errors.
    pub fn new(uri: &str, credentials: Option<(&str, &str)>, field: &str) -> Result<Self, Error> {
        let parsed = Url::parse(uri).map_err(|e| {
            Error::invalid_config(format!(
                "{field}: {e}{}",
                if uri.contains('@') {
                    " (give credentials in source.username and source.password or source.token, not in the URL)"
                } else {
                    ""
                }
            ))
        })?;
        if parsed.target().contains('?') {
            return Err(Error::invalid_config(format!(
                "{field}: `{uri}` has a query; give the repository's URL, e.g. https://github.com/owner/repo.git"
            )));
        }
        let auth = credentials.map(|(user, password)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        });
        Ok(Self {
            url: uri.trim_end_matches('/').to_string(),
            auth,
            capabilities: std::cell::OnceCell::new(),
        })
    }

    /// The repository's URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn send(&self, request: Request, what: &str) -> Result<Response, Error> {
        let request = request.header("User-Agent", crate::protocol::AGENT);
        let request = match &self.auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        };
        let response = request.send().map_err(|e| {
            let message = format!("{what} of {}: {}", self.url, e.message);
            match e.kind {
                HttpErrorKind::InvalidUrl => Error::invalid_config(message),
                _ => Error::failed(message),
            }
        })?;
        if response.is_success() {
            return Ok(response);
        }
        let status = response.status;
        let said = response.text();
        let said: String = said.trim().chars().take(300).collect();
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        Err(match status {
            401 if self.auth.is_none() => Error::failed(format!(
                "{what} of {}: the server asks for credentials (401); give source.username and source.password, or source.token, as ((secrets))",
                self.url
            )),
            401 | 403 => Error::failed(format!(
                "{what} of {}: the server refused the credentials ({status}){said}",
                self.url
            )),
            404 => Error::not_found(format!(
                "{what} of {}: no repository there (404){said}",
                self.url
            )),
            _ => Error::failed(format!(
                "{what} of {}: the server answered {status} {}{said}",
                self.url, response.reason
            )),
        })
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.url)
    }

    /// What `git-upload-pack` offers (protocol version 2), asked once per [`Remote`]. A
    /// repository whose objects are not SHA-1 is refused here.
    pub fn capabilities(&self) -> Result<&Capabilities, Error> {
        if let Some(caps) = self.capabilities.get() {
            return Ok(caps);
        }
        let caps = self.ask_capabilities()?;
        if let Some(format) = caps.get("object-format")
            && format != "sha1"
        {
            return Err(Error::failed(format!(
                "{} is a {format} repository: only SHA-1 repositories are supported",
                self.url
            )));
        }
        Ok(self.capabilities.get_or_init(|| caps))
    }

    fn ask_capabilities(&self) -> Result<Capabilities, Error> {
        let request = Request::get(&self.endpoint("info/refs?service=git-upload-pack"))?
            .header("Git-Protocol", "version=2")
            .timeout(SHORT)
            .max_response_bytes(1 << 20);
        let response = self.send(request, "listing the capabilities")?;
        self.smart(&response, "git-upload-pack-advertisement")?;
        Capabilities::parse(&response.body)
            .map_err(|why| Error::failed(format!("{}: {why}", self.url)))
    }

    /// Checks that `response` is from git's smart protocol (not a dumb server's file).
    fn smart(&self, response: &Response, kind: &str) -> Result<(), Error> {
        let content_type = response.header("content-type").unwrap_or_default();
        if content_type.starts_with(&format!("application/x-{kind}")) {
            Ok(())
        } else {
            Err(Error::failed(format!(
                "{} does not speak git's smart HTTP protocol: it answered with content type `{content_type}` instead of application/x-{kind} (a dumb HTTP server or not a git server)",
                self.url
            )))
        }
    }

    fn upload_pack(&self, body: Vec<u8>, timeout: Duration, what: &str) -> Result<Response, Error> {
        let request = Request::post(&self.endpoint("git-upload-pack"))?
            .header("Git-Protocol", "version=2")
            .header("Content-Type", "application/x-git-upload-pack-request")
            .header("Accept", "application/x-git-upload-pack-result")
            .body(body)
            .timeout(timeout)
            .max_response_bytes(MAX_PACK_BYTES);
        let response = self.send(request, what)?;
        self.smart(&response, "git-upload-pack-result")?;
        Ok(response)
    }

    /// The refs whose names start with one of `prefixes`.
    pub fn ls_refs(&self, prefixes: &[&str]) -> Result<Vec<RemoteRef>, Error> {
        let caps = self.capabilities()?;
        if caps.get("ls-refs").is_none() {
            return Err(Error::failed(format!(
                "{}: the server does not offer `ls-refs`",
                self.url
            )));
        }
        let response = self.upload_pack(ls_refs_request(prefixes), SHORT, "listing the refs")?;
        parse_ls_refs(&response.body)
            .map_err(|why| Error::failed(format!("listing the refs of {}: {why}", self.url)))
    }

    /// Fetches what `request` asks for.
    pub fn fetch(&self, request: &FetchRequest) -> Result<Fetched, Error> {
        let caps = self.capabilities()?;
        if (request.depth.is_some() || !request.shallow.is_empty()) && !caps.fetch_has("shallow") {
            return Err(Error::failed(format!(
                "{} does not offer shallow fetches (`fetch=shallow`): leave source.depth out",
                self.url
            )));
        }
        let response = self.upload_pack(request.body(), LONG, "fetching")?;
        parse_fetch(&response.body)
            .map_err(|why| Error::failed(format!("fetching from {}: {why}", self.url)))
    }

    /// The refs `git-receive-pack` advertises, before a push.
    pub fn receive_pack_refs(&self) -> Result<Advertised, Error> {
        let request = Request::get(&self.endpoint("info/refs?service=git-receive-pack"))?
            .timeout(SHORT)
            .max_response_bytes(16 << 20);
        let response = self.send(request, "preparing to push")?;
        self.smart(&response, "git-receive-pack-advertisement")?;
        Advertised::parse(&response.body)
            .map_err(|why| Error::failed(format!("preparing to push to {}: {why}", self.url)))
    }

    /// Pushes `pack` and moves ref `name` from `old` to `new`.
    pub fn push(
        &self,
        advertised: &Advertised,
        name: &str,
        old: Option<ObjectId>,
        new: ObjectId,
        pack: &[u8],
    ) -> Result<PushStatus, Error> {
        let side_band = advertised.has("side-band-64k");
        let request = Request::post(&self.endpoint("git-receive-pack"))?
            .header("Content-Type", "application/x-git-receive-pack-request")
            .header("Accept", "application/x-git-receive-pack-result")
            .body(receive_pack_request(name, old, new, side_band, pack))
            .timeout(LONG)
            .max_response_bytes(16 << 20);
        let response = self.send(request, "pushing")?;
        self.smart(&response, "git-receive-pack-result")?;
        parse_report_status(&response.body, name, side_band)
            .map_err(|why| Error::failed(format!("pushing to {}: {why}", self.url)))
    }
}

/// A bare repository in `/cache` mirroring what was fetched from one remote.
pub struct Mirror {
    dir: PathBuf,
}

impl Mirror {
    /// The mirror of the repository at `url`, created empty if it is not there.
    pub fn open(url: &str) -> Result<Self, Error> {
        Self::open_in(Path::new(CACHE_DIR), url)
    }

    /// [`Mirror::open`] under `root` instead of `/cache`.
    pub fn open_in(root: &Path, url: &str) -> Result<Self, Error> {
        let digest = Sha1::digest(url.as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let dir = root.join(format!("git-{name}"));
        for sub in ["objects/pack", "refs/heads", "refs/tags"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).with_path(&path)?;
        }
        for (file, content) in [
            ("HEAD", "ref: refs/heads/main\n".to_string()),
            (
                "config",
                "[core]\n\trepositoryformatversion = 0\n\tbare = true\n".to_string(),
            ),
            ("description", format!("Lockgate's mirror of {url}\n")),
        ] {
            let path = dir.join(file);
            if !path.exists() {
                write_atomic(&path, content.as_bytes())?;
            }
        }
        Ok(Self { dir })
    }

    /// Its directory (a bare repository `git` can read).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens it for reading (again after a fetch: a reader lists the packs once).
    pub fn repo(&self) -> Result<Repo, Error> {
        Repo::open(&self.dir, "the mirror in /cache")
    }

    /// Whether commit `id` is in the mirror.
    pub fn has_commit(&self, id: ObjectId) -> Result<bool, Error> {
        Ok(self.repo()?.commit(id).is_ok())
    }

    /// The commits the mirror's refs point to (that it really has), for `have` lines.
    pub fn tips(&self) -> Result<Vec<ObjectId>, Error> {
        let mut repo = self.repo()?;
        let mut tips = Vec::new();
        for sub in ["refs/heads", "refs/tags"] {
            walk_refs(&self.dir.join(sub), &mut |text| {
                if let Some(id) = ObjectId::from_hex(text.trim())
                    && !tips.contains(&id)
                    && repo.commit(id).is_ok()
                {
                    tips.push(id);
                }
            })?;
        }
        Ok(tips)
    }

    /// The commits whose parents the mirror lacks (a shallow fetch's boundary).
    pub fn shallow(&self) -> Result<Vec<ObjectId>, Error> {
        let path = self.dir.join("shallow");
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text.lines().filter_map(ObjectId::from_hex).collect()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Checks the pack of `fetched`, writes it and its index into the mirror, and updates
    /// the shallow boundary. A pack that does not check out leaves the mirror as it was.
    pub fn store(&self, fetched: Fetched, url: &str) -> Result<usize, Error> {
        let mut repo = self.repo()?;
        let indexed = index_pack(&fetched.pack, |id| match repo.object(id) {
            Ok(object) => Ok(Some(object)),
            Err(_) => Ok(None),
        })
        .map_err(|why| Error::failed(format!("the pack fetched from {url}: {why}")))?;
        let objects = indexed.ids.len();
        if objects > 0 {
            let base = self
                .dir
                .join("objects/pack")
                .join(format!("pack-{}", indexed.checksum));
            // The pack first, then its index: a reader only looks at packs with an index.
            write_atomic(&base.with_extension("pack"), &fetched.pack)?;
            write_atomic(&base.with_extension("idx"), &indexed.idx)?;
        }
        if !fetched.shallow.is_empty() || !fetched.unshallow.is_empty() {
            let mut shallow = self.shallow()?;
            shallow.retain(|id| !fetched.unshallow.contains(id));
            for id in fetched.shallow {
                if !shallow.contains(&id) {
                    shallow.push(id);
                }
            }
            let text: String = shallow.iter().map(|id| format!("{id}\n")).collect();
            write_atomic(&self.dir.join("shallow"), text.as_bytes())?;
        }
        Ok(objects)
    }

    /// Points ref `name` (`refs/heads/main`) at `id`.
    pub fn set_ref(&self, name: &str, id: ObjectId) -> Result<(), Error> {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_path(parent)?;
        }
        write_atomic(&path, format!("{id}\n").as_bytes())
    }
}

/// Calls `each` with the content of every ref file under `dir`.
fn walk_refs(dir: &Path, each: &mut dyn FnMut(&str)) -> Result<(), Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_refs(&path, each)?;
        } else if let Ok(text) = fs::read_to_string(&path) {
            each(&text);
        }
    }
    Ok(())
}

/// Writes `path` through a temporary file and a rename, so that a reader (another
/// invocation sharing the cache) never sees it half written.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = path.with_file_name(format!(
        ".tmp-{}-{nanos}-{n}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    fs::write(&tmp, data).with_path(&tmp)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
