//! # lockgate-sdk: write Lockgate plugins in plain Rust
//!
//! A Lockgate plugin is a WebAssembly component (WASI preview 2) that implements one of two
//! worlds of the WIT package `lockgate:plugin@0.1.0`:
//!
//! - a **resource type** discovers versions (`check`), fetches one into `/output` (`get`)
//!   and publishes or deploys one (`put`): implement [`ResourceType`] and call
//!   [`export_resource_type!`];
//! - a **test step** judges a deployed environment and returns a [`TestReport`]
//!   (`run`): implement [`TestStep`] and call [`export_test_step!`].
//!
//! The SDK parses the `source` / `params` / `config` JSON into your serde types (a bad
//! document becomes [`Error::InvalidConfig`] naming the field, see [`parse_json`]),
//! converts [`Version`]s, [`Fetched`] values, [`Description`]s and reports to their WIT
//! form, and wraps the host imports ([`log`], [`inputs`]). The sandbox paths are constants
//! ([`INPUTS_DIR`], [`OUTPUT_DIR`], [`CACHE_DIR`], [`DIRS_DIR`]); see [`sandbox`].
//!
//! ## A complete resource type
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! lockgate-sdk = { path = "../sdk" }   # keep the name `lockgate-sdk`: the export macros use it
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs` (build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component):
//!
//! ```no_run
//! use lockgate_sdk::{Description, Error, Fetched, NoParams, ResourceType, Version, IoResultExt};
//! use serde::Deserialize;
//!
//! /// Versions of a file: its whole (trimmed) content is the version.
//! struct FileContent;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Source {
//!     /// For example `/dirs/state/release`.
//!     path: String,
//! }
//!
//! impl ResourceType for FileContent {
//!     type Source = Source;
//!     type GetParams = NoParams;
//!     type PutParams = NoParams;
//!
//!     fn describe() -> Description {
//!         Description::new("file-content", env!("CARGO_PKG_VERSION"))
//!             .summary("The content of one file, as a version")
//!             .dir("state")
//!     }
//!
//!     fn check(source: Source, _from: Option<Version>) -> Result<Vec<Version>, Error> {
//!         let text = std::fs::read_to_string(&source.path).with_path(&source.path)?;
//!         lockgate_sdk::debug!("read {} bytes from {}", text.len(), source.path);
//!         Ok(vec![Version::new().with("content", text.trim())])
//!     }
//!
//!     fn get(source: Source, version: Version, _: NoParams) -> Result<Fetched, Error> {
//!         let current = Self::check(source, None)?.remove(0);
//!         if current != version {
//!             return Err(Error::not_found(format!("{version} is no longer current")));
//!         }
//!         let out = lockgate_sdk::output_path("content");
//!         std::fs::write(&out, current.get("content").unwrap_or_default()).with_path(&out)?;
//!         Ok(Fetched::new(version).with_metadata("file", "content"))
//!     }
//!
//!     fn put(_: Source, _: NoParams) -> Result<Fetched, Error> {
//!         Err(Error::failed("file-content is read-only"))
//!     }
//! }
//!
//! lockgate_sdk::export_resource_type!(FileContent);
//! # fn main() {}
//! ```
//!
//! ## A test step
//!
//! ```no_run
//! use lockgate_sdk::{Description, Error, TestReport, TestStep, TestSuite};
//! use serde::Deserialize;
//!
//! struct InputsPresent;
//!
//! #[derive(Deserialize)]
//! struct Config { expected: Vec<String> }
//!
//! impl TestStep for InputsPresent {
//!     type Config = Config;
//!
//!     fn describe() -> Description {
//!         Description::new("inputs-present", "0.1.0").summary("Checks that inputs were granted")
//!     }
//!
//!     fn run(config: Config) -> Result<TestReport, Error> {
//!         let granted = lockgate_sdk::inputs();
//!         let mut suite = TestSuite::new("inputs");
//!         for name in &config.expected {
//!             suite.case(name.as_str(), || {
//!                 if granted.contains(name) { Ok(()) } else { Err(format!("expected input `{name}`, found {granted:?}")) }
//!             });
//!         }
//!         Ok(suite.into())
//!     }
//! }
//!
//! lockgate_sdk::export_test_step!(InputsPresent);
//! # fn main() {}
//! ```
//!
//! ## Behaviour worth knowing
//!
//! - A panic aborts the component: the host sees a trap and the panic message on stderr.
//!   Return an [`Error`] instead.
//! - The plugin must depend on this crate under its own name `lockgate-sdk`: the code the
//!   export macros generate refers to `lockgate_sdk::…`.
//! - `describe` runs without any grant: do not touch files or the network there.
//! - The network is closed except for the granted `host:port` pairs; [`http`] is a small
//!   HTTP and HTTPS client for them, sent by the host through `wasi:http/outgoing-handler`
//!   (a `host:port` the step was not granted is refused, and the engine logs it). Outside the
//!   sandbox (native unit tests) its requests fail with a message saying so.

extern crate self as lockgate_sdk;

mod adapter;
#[doc(hidden)]
pub mod bindings;
mod config;
mod description;
#[cfg(feature = "yaml")]
pub mod document;
mod error;
pub mod http;
pub mod log;
pub mod ordering;
mod report;
pub mod sandbox;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod version;

pub use config::{NoParams, parse_json};
pub use description::{Description, NetworkRequest};
pub use error::{Error, IoResultExt};
pub use report::{CaseStatus, Outcome, TestCase, TestReport, TestSuite};
pub use sandbox::{
    CACHE_DIR, DIRS_DIR, INPUTS_DIR, OUTPUT_DIR, cache_path, dir_path, input_file, input_path,
    inputs, output_path,
};
pub use version::{Fetched, Metadata, Version};

/// Re-export of `serde`, for `serde(crate = "lockgate_sdk::serde")` if a plugin does not
/// want its own dependency.
pub use serde;
/// Re-export of `serde_json`, for `lockgate_sdk::serde_json::json!` schemas.
pub use serde_json;

/// The raw WIT types, as `wit-bindgen` generates them. Plugins normally never need these:
/// the SDK types convert to and from them.
pub mod wit {
    pub use crate::bindings::types::{
        Capabilities, CaseStatus, Description, Fetched, NetworkRequest, Pair, PluginError,
        PluginKind, TestCase, TestReport, TestSuite,
    };
}

/// Not public API: used by the export macros.
#[doc(hidden)]
pub mod __private {
    pub use crate::adapter::{ResourceAdapter, TestStepAdapter};
    pub use wit_bindgen;
}

/// A resource type: discovers versions, fetches one, publishes or deploys one.
///
/// The SDK parses `source` and `params` into the associated types before calling the
/// methods; parse errors never reach them (they become [`Error::InvalidConfig`]). Export the
/// implementation with [`export_resource_type!`].
pub trait ResourceType {
    /// The resource's configuration, as the pipeline gives it (`source`).
    type Source: serde::de::DeserializeOwned;
    /// Parameters of [`get`](Self::get); use [`NoParams`] if there are none.
    type GetParams: serde::de::DeserializeOwned;
    /// Parameters of [`put`](Self::put); use [`NoParams`] if there are none.
    type PutParams: serde::de::DeserializeOwned;

    /// Describes the plugin: name, version, schemas and the capabilities it asks for.
    /// Called without any grant; must not touch files or the network.
    fn describe() -> Description;

    /// Lists the versions that exist, oldest first.
    ///
    /// Without `from`, return at least the newest version. With `from`, return `from` itself
    /// if it is still valid followed by every newer version; if `from` is gone, return the
    /// newest. Grants: `/cache`, named `/dirs`, granted hosts.
    fn check(source: Self::Source, from: Option<Version>) -> Result<Vec<Version>, Error>;

    /// Fetches `version` into [`OUTPUT_DIR`] and returns it with its metadata.
    /// Grants: `/output`, `/cache`, named `/dirs`, granted hosts.
    fn get(
        source: Self::Source,
        version: Version,
        params: Self::GetParams,
    ) -> Result<Fetched, Error>;

    /// Publishes or deploys what `params` designates among `/inputs/<name>` and returns the
    /// version it created. Grants: `/inputs/<name>`, `/cache`, named `/dirs`, granted hosts.
    fn put(source: Self::Source, params: Self::PutParams) -> Result<Fetched, Error>;
}

/// A test step: judges a deployed environment and returns a [`TestReport`].
///
/// Export the implementation with [`export_test_step!`].
pub trait TestStep {
    /// The step's configuration (`config`).
    type Config: serde::de::DeserializeOwned;

    /// Describes the plugin: name, version, config schema and the capabilities it asks for.
    /// Called without any grant; must not touch files or the network.
    fn describe() -> Description;

    /// Runs the tests and returns the report. Failing cases belong in the report; return an
    /// error only when the tests could not be run at all.
    /// Grants: `/inputs/<name>`, named `/dirs`, granted hosts.
    fn run(config: Self::Config) -> Result<TestReport, Error>;
}

/// Exports a [`ResourceType`] implementation as the component's `lockgate:plugin/resource-ops`
/// interface (world `resource-type`). Call it once, at the top level of a `cdylib` crate:
/// `lockgate_sdk::export_resource_type!(MyType);`
#[macro_export]
macro_rules! export_resource_type {
    ($ty:ty) => {
        const _: () = {
            type __LockgateResourceTypeAdapter = $crate::__private::ResourceAdapter<$ty>;
            $crate::bindings::resource_type::__export_resource_type!(
                __LockgateResourceTypeAdapter with_types_in $crate::bindings::resource_type
            );
        };
    };
}

/// Exports a [`TestStep`] implementation as the component's `lockgate:plugin/test-ops`
/// interface (world `test-step`). Call it once, at the top level of a `cdylib` crate:
/// `lockgate_sdk::export_test_step!(MyStep);`
#[macro_export]
macro_rules! export_test_step {
    ($ty:ty) => {
        const _: () = {
            type __LockgateTestStepAdapter = $crate::__private::TestStepAdapter<$ty>;
            $crate::bindings::test_step::__export_test_step!(
                __LockgateTestStepAdapter with_types_in $crate::bindings::test_step
            );
        };
    };
}
