//! The bottom layer of Lockgate: the values every other crate speaks in, with no WebAssembly
//! runtime, no database and no async runtime in its dependency tree.
//!
//! - [`plugin`]: what plugins exchange with the engine: versions, metadata, descriptions,
//!   test reports (plain serde mirrors of `wit/plugin/types.wit`);
//! - [`grants`] and [`limits`]: what one invocation may touch and how much it may use;
//! - [`status`]: lifecycles of builds and steps, candidate events;
//! - [`units`], [`suggest`], [`digest`]: durations for people, "did you mean", SHA-256.

pub mod digest;
pub mod error;
pub mod grants;
pub mod limits;
pub mod plugin;
pub mod status;
pub mod suggest;
pub mod units;

pub use digest::sha256_hex;
pub use error::{BoxError, ErrorReport, Report};
pub use grants::{DirGrant, GrantError, Grants, NetworkGrant};
pub use limits::{Limits, Operation};
pub use plugin::{
    Capabilities, CaseStatus, Description, Fetched, InvalidVersion, Metadata, NO_REGISTRY,
    NetworkRequest, PluginKind, TestCase, TestReport, TestSuite, Version, VersionPolicy,
};
pub use status::{BuildStatus, CandidateEvent, ParseNameError, StepStatus};
pub use suggest::did_you_mean;
pub use units::{humanize, humanize_bytes};

/// Version of the plugin contract (`wit/plugin`, package `lockgate:plugin`) this engine
/// implements.
pub const CONTRACT_VERSION: &str = "0.1.0";
