//! Lifecycles of builds and steps, and what happens to a candidate in an environment: the
//! names stored in the database and shown to users.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A name that is not one of a status enum's values (a hand-edited or newer database).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct ParseNameError {
    /// The enum, e.g. `BuildStatus`.
    pub kind: &'static str,
    /// The name that was read.
    pub name: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored (and displayed) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseNameError;

            fn from_str(s: &str) -> Result<Self, ParseNameError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(ParseNameError {
                        kind: stringify!($name),
                        name: other.to_owned(),
                    }),
                }
            }
        }
    };
}

string_enum!(
    /// Lifecycle of a build.
    BuildStatus {
        /// Created, waiting to start.
        Pending => "pending",
        /// Running on a node.
        Started => "started",
        /// Every step passed.
        Succeeded => "succeeded",
        /// A step failed (a test failed, a plugin reported failure).
        Failed => "failed",
        /// The engine or a plugin broke.
        Errored => "errored",
        /// Stopped by a person.
        Aborted => "aborted",
        /// Its node died while it ran; a new pending build replaces it.
        Interrupted => "interrupted",
    }
);

impl BuildStatus {
    /// True for the statuses a build never leaves.
    pub fn is_finished(self) -> bool {
        !matches!(self, BuildStatus::Pending | BuildStatus::Started)
    }
}

string_enum!(
    /// Lifecycle of a build step.
    StepStatus {
        /// Not started yet.
        Pending => "pending",
        /// Running.
        Running => "running",
        /// Passed.
        Succeeded => "succeeded",
        /// Failed.
        Failed => "failed",
        /// Broke.
        Errored => "errored",
        /// Stopped by a person.
        Aborted => "aborted",
        /// Not run (an earlier step failed, a `try` swallowed it, ...).
        Skipped => "skipped",
        /// Its node died while it ran.
        Interrupted => "interrupted",
    }
);

string_enum!(
    /// What happened to a candidate in an environment.
    CandidateEvent {
        /// Deployed to the environment.
        Deployed => "deployed",
        /// Tested there (detail: report summary).
        Tested => "tested",
        /// Every gate job of the environment succeeded with it (recorded once).
        Qualified => "qualified",
        /// Approved by a person for the environment (recorded once).
        Approved => "approved",
        /// Let into the environment (recorded once).
        Promoted => "promoted",
        /// Re-deployed by `lockgate rollback`.
        RolledBack => "rolled_back",
    }
);

impl CandidateEvent {
    /// True for events recorded at most once per candidate and environment.
    pub fn is_once(self) -> bool {
        matches!(
            self,
            CandidateEvent::Qualified | CandidateEvent::Approved | CandidateEvent::Promoted
        )
    }
}
