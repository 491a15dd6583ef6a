//! Test reports: what a test step returns.

use std::fmt;
use std::time::{Duration, Instant};

use crate::wit;

/// Outcome of one test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// The assertion held.
    Passed,
    /// The assertion did not hold: the environment is not good.
    Failed,
    /// The case was not run (not applicable, disabled).
    Skipped,
    /// The case could not be judged: the test itself broke.
    Errored,
}

impl From<CaseStatus> for wit::CaseStatus {
    fn from(status: CaseStatus) -> Self {
        match status {
            CaseStatus::Passed => Self::Passed,
            CaseStatus::Failed => Self::Failed,
            CaseStatus::Skipped => Self::Skipped,
            CaseStatus::Errored => Self::Errored,
        }
    }
}

/// Status and message of a case, without its name and duration: what the closure given to
/// [`TestSuite::case`] returns (directly, or as a `Result<(), impl Display>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status.
    pub status: CaseStatus,
    /// Explanation; expected for anything but [`CaseStatus::Passed`].
    pub message: Option<String>,
}

impl Outcome {
    /// Passed, without message.
    pub fn passed() -> Self {
        Self {
            status: CaseStatus::Passed,
            message: None,
        }
    }

    /// Passed, with a message (for example what was found).
    pub fn passed_with(message: impl Into<String>) -> Self {
        Self {
            status: CaseStatus::Passed,
            message: Some(message.into()),
        }
    }

    /// Failed: the assertion did not hold; say what was expected and what was found.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            status: CaseStatus::Failed,
            message: Some(message.into()),
        }
    }

    /// Skipped, saying why.
    pub fn skipped(message: impl Into<String>) -> Self {
        Self {
            status: CaseStatus::Skipped,
            message: Some(message.into()),
        }
    }

    /// Errored: the case could not be judged, saying why.
    pub fn errored(message: impl Into<String>) -> Self {
        Self {
            status: CaseStatus::Errored,
            message: Some(message.into()),
        }
    }
}

impl<E: fmt::Display> From<Result<(), E>> for Outcome {
    /// `Ok(())` → passed; `Err(e)` → failed with `e` as the message.
    fn from(result: Result<(), E>) -> Self {
        match result {
            Ok(()) => Self::passed(),
            Err(e) => Self::failed(e.to_string()),
        }
    }
}

/// One test case of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// Name, unique within its suite.
    pub name: String,
    /// Outcome.
    pub status: CaseStatus,
    /// How long the case took (reported in whole milliseconds).
    pub duration: Duration,
    /// Explanation, mandatory in spirit for anything but `passed`.
    pub message: Option<String>,
}

impl TestCase {
    /// A case with this status, no duration and no message.
    pub fn new(name: impl Into<String>, status: CaseStatus) -> Self {
        Self {
            name: name.into(),
            status,
            duration: Duration::ZERO,
            message: None,
        }
    }

    /// A case built from an [`Outcome`].
    pub fn from_outcome(name: impl Into<String>, outcome: Outcome, duration: Duration) -> Self {
        Self {
            name: name.into(),
            status: outcome.status,
            duration,
            message: outcome.message,
        }
    }

    /// A passed case.
    pub fn passed(name: impl Into<String>) -> Self {
        Self::new(name, CaseStatus::Passed)
    }

    /// A failed case with its explanation.
    pub fn failed(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(name, CaseStatus::Failed).with_message(message)
    }

    /// A skipped case with its reason.
    pub fn skipped(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(name, CaseStatus::Skipped).with_message(message)
    }

    /// An errored case with its reason.
    pub fn errored(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(name, CaseStatus::Errored).with_message(message)
    }

    /// This case with its duration set.
    #[must_use]
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// This case with its message set.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

impl From<TestCase> for wit::TestCase {
    fn from(case: TestCase) -> Self {
        Self {
            name: case.name,
            status: case.status.into(),
            duration_ms: u64::try_from(case.duration.as_millis()).unwrap_or(u64::MAX),
            message: case.message,
        }
    }
}

/// A named group of test cases, in the order they ran.
///
/// ```
/// use lockgate_sdk::{Outcome, TestSuite};
///
/// let mut suite = TestSuite::new("smoke");
/// suite
///     .case("arithmetic", || if 1 + 1 == 2 { Ok(()) } else { Err("maths broke") })
///     .case("optional", || Outcome::skipped("not configured"));
/// assert!(suite.passed());
/// assert_eq!(suite.cases.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSuite {
    /// Name, for example `smoke` or `api`.
    pub name: String,
    /// The cases, in the order they ran.
    pub cases: Vec<TestCase>,
}

impl TestSuite {
    /// An empty suite.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            cases: Vec::new(),
        }
    }

    /// Runs `check`, timing it, and records a case named `name` from what it returns: an
    /// [`Outcome`], or a `Result<(), E: Display>` (`Err` → failed with the error as
    /// message).
    pub fn case<O: Into<Outcome>>(
        &mut self,
        name: impl Into<String>,
        check: impl FnOnce() -> O,
    ) -> &mut Self {
        let start = Instant::now();
        let outcome = check().into();
        let duration = start.elapsed();
        self.push(TestCase::from_outcome(name, outcome, duration))
    }

    /// Appends an already built case.
    pub fn push(&mut self, case: TestCase) -> &mut Self {
        self.cases.push(case);
        self
    }

    /// This suite with one more case (by-value builder).
    #[must_use]
    pub fn with_case(mut self, case: TestCase) -> Self {
        self.cases.push(case);
        self
    }

    /// Whether no case failed or errored.
    pub fn passed(&self) -> bool {
        self.cases
            .iter()
            .all(|c| !matches!(c.status, CaseStatus::Failed | CaseStatus::Errored))
    }

    /// Number of cases with this status.
    pub fn count(&self, status: CaseStatus) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
    }
}

impl From<TestSuite> for wit::TestSuite {
    fn from(suite: TestSuite) -> Self {
        Self {
            name: suite.name,
            cases: suite.cases.into_iter().map(Into::into).collect(),
        }
    }
}

/// What a test step returns: the structured verdict on an environment. The step passes
/// when no case failed or errored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    /// The suites, in the order they ran.
    pub suites: Vec<TestSuite>,
}

impl TestReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// This report with one more suite (by-value builder).
    #[must_use]
    pub fn with_suite(mut self, suite: TestSuite) -> Self {
        self.suites.push(suite);
        self
    }

    /// Appends a suite.
    pub fn push(&mut self, suite: TestSuite) -> &mut Self {
        self.suites.push(suite);
        self
    }

    /// Whether no case of any suite failed or errored.
    pub fn passed(&self) -> bool {
        self.suites.iter().all(TestSuite::passed)
    }
}

impl From<TestSuite> for TestReport {
    fn from(suite: TestSuite) -> Self {
        Self {
            suites: vec![suite],
        }
    }
}

impl From<TestReport> for wit::TestReport {
    fn from(report: TestReport) -> Self {
        Self {
            suites: report.suites.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_records_outcomes() {
        let mut suite = TestSuite::new("s");
        suite
            .case("ok", || Ok::<(), String>(()))
            .case("bad", || Err("expected 1, found 2"))
            .case("skip", || Outcome::skipped("n/a"));
        assert_eq!(suite.count(CaseStatus::Passed), 1);
        assert_eq!(suite.count(CaseStatus::Failed), 1);
        assert_eq!(
            suite.cases[1].message.as_deref(),
            Some("expected 1, found 2")
        );
        assert!(!suite.passed());
        let report = TestReport::from(suite);
        assert!(!report.passed());
        let wit: wit::TestReport = report.into();
        assert_eq!(wit.suites[0].cases.len(), 3);
    }

    #[test]
    fn skipped_only_passes() {
        let suite = TestSuite::new("s").with_case(TestCase::skipped("x", "disabled"));
        assert!(TestReport::new().with_suite(suite).passed());
    }
}
