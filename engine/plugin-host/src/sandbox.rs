//! The sandbox of one invocation: what the pipeline grants (directories, environment, network
//! hosts) turned into a WASI context, plus the per-store state and limits.
//!
//! Mount points inside a plugin's sandbox are fixed (see `wit/plugin/host.wit`):
//! `/inputs/<name>` read-only, `/output` and `/cache` read-write, `/dirs/<name>` as granted; a
//! task's inputs, outputs and caches are added where `super::command` says. Nothing else of the
//! host file system, no environment variable and no network address is reachable. The
//! network grants govern TCP (`wasi:sockets`, checked here) and HTTP (`wasi:http`, checked in
//! `super::http`) alike.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsCtxView};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;

use super::bindings::{host, types};
use super::fs_guard::{DiskBudget, Guarded};
use super::http::{HttpGate, Network};
use super::name_lookup::Lookup;
use super::output::{Capture, CaptureStream, Level};
use lockgate_model::{GrantError, Grants, NetworkGrant};

/// True for a name usable as one path segment.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Resolves network grants to the exact socket addresses the plugin may connect to.
async fn resolve(network: &[NetworkGrant]) -> Result<HashSet<SocketAddr>, GrantError> {
    let mut allowed = HashSet::new();
    for grant in network {
        let addrs = tokio::net::lookup_host((grant.host.as_str(), grant.port))
            .await
            .map_err(|e| GrantError::Network {
                grant: grant.to_string(),
                reason: format!("cannot resolve: {e}"),
            })?;
        for addr in addrs {
            allowed.insert(canonical(addr));
        }
    }
    Ok(allowed)
}

pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// One directory of the host seen by the guest: `path` at `guest`, with `perms`. `what` and
/// `name` name it in messages (`input`, `config`).
pub(crate) struct Mount<'a> {
    pub(crate) what: &'static str,
    pub(crate) name: &'a str,
    pub(crate) path: &'a Path,
    pub(crate) guest: String,
    pub(crate) perms: FsPerms,
}

/// The mounts of `grants` at the plugins' fixed places: `/inputs/<name>` read-only,
/// `/dirs/<name>` as granted, `/output` and `/cache` read-write.
pub(crate) fn grant_mounts(grants: &Grants) -> Vec<Mount<'_>> {
    let mut mounts = Vec::new();
    for input in &grants.inputs {
        mounts.push(Mount {
            what: "input",
            name: &input.name,
            path: &input.path,
            guest: format!("/inputs/{}", input.name),
            perms: FsPerms::ReadOnly,
        });
    }
    for dir in &grants.dirs {
        mounts.push(Mount {
            what: "dir",
            name: &dir.name,
            path: &dir.path,
            guest: format!("/dirs/{}", dir.name),
            perms: if dir.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            },
        });
    }
    if let Some(output) = &grants.output {
        mounts.push(Mount {
            what: "output",
            name: "output",
            path: output,
            guest: "/output".into(),
            perms: FsPerms::ReadWrite,
        });
    }
    if let Some(cache) = &grants.cache {
        mounts.push(Mount {
            what: "cache",
            name: "cache",
            path: cache,
            guest: "/cache".into(),
            perms: FsPerms::ReadWrite,
        });
    }
    mounts
}

/// Everything a sandbox's WASI context is made of besides its output.
pub(crate) struct CtxSpec<'a> {
    /// The directories it sees.
    pub(crate) mounts: &'a [Mount<'a>],
    /// Its environment variables.
    pub(crate) env: &'a [(String, String)],
    /// Its arguments (`argv`, the program's name first); plugins have none.
    pub(crate) args: &'a [String],
    /// The hosts it may reach.
    pub(crate) network: &'a [NetworkGrant],
    /// Who runs in it, for the engine's notices ("plugin", "task").
    pub(crate) who: &'static str,
}

/// Builds the WASI context for `grants`, and the network they open (for the HTTP check).
/// Output goes to `capture`; `inline_fs` runs file-system calls on the invoking thread instead
/// of tokio's blocking pool.
pub(crate) async fn wasi_ctx(
    grants: &Grants,
    capture: &Arc<Capture>,
    inline_fs: bool,
) -> Result<(WasiCtx, Arc<Network>), GrantError> {
    let mounts = grant_mounts(grants);
    let spec = CtxSpec {
        mounts: &mounts,
        env: &grants.env,
        args: &[],
        network: &grants.network,
        who: "plugin",
    };
    build_ctx(&spec, capture, inline_fs).await
}

/// Builds the WASI context of `spec`: only its mounts, variables and arguments, stdout and
/// stderr into `capture`, TCP and name lookups checked against its network (plus clocks and
/// random numbers, which every context has); and the network it opens.
pub(crate) async fn build_ctx(
    spec: &CtxSpec<'_>,
    capture: &Arc<Capture>,
    inline_fs: bool,
) -> Result<(WasiCtx, Arc<Network>), GrantError> {
    let mut b = WasiCtxBuilder::new();
    // Must precede every `preopened_dir`: it is copied into each preopen as it is added.
    // Without it every file operation takes a `spawn_blocking` round trip (5-14x slower).
    b.allow_blocking_current_thread(inline_fs);
    b.stdout(CaptureStream::stdout(capture));
    b.stderr(CaptureStream::stderr(capture));
    b.args(spec.args);

    let mut seen = HashSet::new();
    for m in spec.mounts {
        let (what, name) = (m.what, m.name);
        // A task's directory may sit deeper than `/` (`path: src/app`): each segment a name.
        if !name.split('/').all(valid_name) {
            return Err(GrantError::BadName {
                what,
                name: name.to_owned(),
            });
        }
        if !seen.insert(m.guest.clone()) {
            return Err(GrantError::Duplicate {
                what,
                name: name.to_owned(),
            });
        }
        let dir_error = |reason: String| GrantError::Dir {
            what,
            name: name.to_owned(),
            path: m.path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(m.path).map_err(|e| dir_error(e.to_string()))?;
        if !meta.is_dir() {
            return Err(dir_error("not a directory".into()));
        }
        b.preopened_dir(m.path, &m.guest, m.perms)
            .map_err(|e| dir_error(format!("{e:#}")))?;
    }

    for (name, value) in spec.env {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(GrantError::BadName {
                what: "environment variable",
                name: name.clone(),
            });
        }
        b.env(name, value);
    }

    let network = Arc::new(Network {
        grants: spec.network.to_vec(),
        addrs: resolve(spec.network).await?,
        who: spec.who,
    });
    // TCP is always on so that every refused connection reaches the check below and is logged;
    // the check lets through only granted addresses.
    b.allow_tcp(true);
    b.allow_udp(false);
    // Lookups are checked name by name (`super::name_lookup`): only granted names resolve.
    b.allow_ip_name_lookup(true);
    let notices = capture.clone();
    let allowed = network.clone();
    let who = spec.who;
    b.socket_addr_check(move |addr, use_| {
        let ok = match use_ {
            SocketAddrUse::TcpConnect => allowed.addrs.contains(&canonical(addr)),
            // `connect` first binds implicitly to the unspecified address and port 0; that
            // opens nothing to the outside. Explicit binds (listening) are refused.
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            _ => false,
        };
        if !ok {
            let what = match use_ {
                SocketAddrUse::TcpConnect => "connect to",
                SocketAddrUse::TcpBind => "listen on",
                _ => "send UDP to",
            };
            notices.engine(format!(
                "network: refused to let the {who} {what} {addr}: not granted"
            ));
        }
        Box::pin(async move { ok })
    });
    Ok((b.build(), network))
}

/// Per-store state: the WASI and HTTP contexts, the capture, and the memory limiter.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    /// The grant check and timeouts of `wasi:http` requests.
    pub(crate) http_gate: HttpGate,
    pub(crate) table: ResourceTable,
    pub(crate) capture: Arc<Capture>,
    /// What the invocation may still write and create on disk.
    pub(crate) disk: Arc<DiskBudget>,
    pub(crate) inputs: Vec<String>,
    pub(crate) limiter: Limiter,
    pub(crate) deadline_hit: bool,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The file-system view the guard of `super::fs_guard` checks.
pub(crate) fn guarded_fs(state: &mut HostState) -> Guarded<'_> {
    Guarded {
        fs: WasiFilesystemCtxView {
            ctx: state.wasi.filesystem(),
            table: &mut state.table,
        },
        capture: &state.capture,
        disk: &state.disk,
    }
}

/// The sockets view the name-lookup check of `super::name_lookup` guards.
pub(crate) fn guarded_lookup(state: &mut HostState) -> Lookup<'_> {
    Lookup {
        sockets: WasiSocketsCtxView {
            ctx: state.wasi.sockets(),
            table: &mut state.table,
        },
        network: &state.http_gate.network,
        capture: &state.capture,
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    async fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Trace => Level::Trace,
            host::Level::Debug => Level::Debug,
            host::Level::Info => Level::Info,
            host::Level::Warn => Level::Warn,
            host::Level::Error => Level::Error,
        };
        self.capture.ready().await;
        self.capture.log(level, &message);
    }

    async fn inputs(&mut self) -> Vec<String> {
        self.inputs.clone()
    }
}

/// Caps linear memory and table growth; remembers whether the cap was hit so a trap can be
/// reported as a memory-limit error rather than a crash.
pub(crate) struct Limiter {
    pub(crate) memory_bytes: usize,
    pub(crate) memory_hit: bool,
}

/// Largest table a plugin may grow (function references); generous for interpreters.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_hit = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes reached (asked for {desired})",
                self.memory_bytes
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_grants_parse_host_and_port() {
        let g: NetworkGrant = "example.org:443".parse().unwrap();
        assert_eq!(
            g,
            NetworkGrant {
                host: "example.org".into(),
                port: 443
            }
        );
        let v6: NetworkGrant = "[::1]:8080".parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "[::1]:8080");
        for bad in ["example.org", ":80", "h:0", "h:99999", "h:x"] {
            assert!(
                bad.parse::<NetworkGrant>().is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn grant_names_are_single_safe_segments() {
        assert!(valid_name("release-1.2_x"));
        for bad in ["", ".", "..", "a/b", "a\\b", "ä"] {
            assert!(!valid_name(bad), "{bad:?} should be refused");
        }
    }
}
