//! Name lookups (`wasi:sockets/ip-name-lookup`) checked against the network grants before
//! wasmtime-wasi resolves them: a plugin may resolve only the host names its grants name (an IP
//! address needs no lookup). Any other name is refused, with a notice in the invocation's log,
//! and never reaches a DNS server — a lookup of a name made up of data would otherwise carry
//! that data out of the sandbox.

use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddress, Network as Handle};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use super::http::Network;
use super::output::Capture;

/// The `wasi:sockets/ip-name-lookup` interface as the sandbox links it.
pub(crate) struct GuardedLookup;

impl wasmtime::component::HasData for GuardedLookup {
    type Data<'a> = Lookup<'a>;
}

/// wasmtime-wasi's sockets with the invocation's grants and log.
pub(crate) struct Lookup<'a> {
    pub(crate) sockets: WasiSocketsCtxView<'a>,
    pub(crate) network: &'a Network,
    pub(crate) capture: &'a Arc<Capture>,
}

/// Whether `name` may be resolved under `network`: an IP address, or a host a grant names.
fn may_resolve(network: &Network, name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = name.trim_end_matches('.');
    network
        .grants
        .iter()
        .any(|g| g.host.trim_end_matches('.').eq_ignore_ascii_case(name))
}

impl wasmtime_wasi::p2::bindings::sockets::network::Host for Lookup<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        wasmtime_wasi::p2::bindings::sockets::network::Host::convert_error_code(
            &mut self.sockets,
            error,
        )
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        wasmtime_wasi::p2::bindings::sockets::network::Host::network_error_code(
            &mut self.sockets,
            err,
        )
    }
}

impl wasmtime_wasi::p2::bindings::sockets::network::HostNetwork for Lookup<'_> {
    fn drop(&mut self, this: Resource<Handle>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::bindings::sockets::network::HostNetwork::drop(&mut self.sockets, this)
    }
}

impl Host for Lookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Handle>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !may_resolve(self.network, &name) {
            let shown: String = name.chars().take(253).collect();
            self.capture.engine(format!(
                "network: refused to resolve `{shown}`: no network grant names it"
            ));
            return Err(ErrorCode::PermanentResolverFailure.into());
        }
        Host::resolve_addresses(&mut self.sockets, network, name)
    }
}

impl HostResolveAddressStream for Lookup<'_> {
    fn resolve_next_address(
        &mut self,
        resource: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        HostResolveAddressStream::resolve_next_address(&mut self.sockets, resource)
    }

    fn subscribe(
        &mut self,
        resource: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.sockets, resource)
    }

    fn drop(&mut self, resource: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        HostResolveAddressStream::drop(&mut self.sockets, resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_model::NetworkGrant;

    #[test]
    fn only_granted_names_and_addresses_resolve() {
        let network = Network {
            grants: vec![
                "registry.example:443".parse::<NetworkGrant>().unwrap(),
                "db.internal:5432".parse().unwrap(),
            ],
            addrs: Default::default(),
            who: "plugin",
        };
        for ok in [
            "registry.example",
            "REGISTRY.example.",
            "db.internal",
            "10.0.0.1",
            "::1",
            "[::1]",
        ] {
            assert!(may_resolve(&network, ok), "{ok}");
        }
        for refused in [
            "example",
            "secret-data.attacker.example",
            "db.internal.evil",
            "",
        ] {
            assert!(!may_resolve(&network, refused), "{refused}");
        }
    }
}
