//! Resource checks: which resources are polled, how often, and storing what they find.
//!
//! A resource is polled only when some job `get`s it without `passed` (its versions come from
//! outside; the others arrive through upstream builds or are only `put` to). Resources with
//! the same type and `source` share one version history and are checked once.

use lockgate_model::ErrorReport;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{Result, Scheduler, SchedulerError};
use crate::plan::ResourcePlan;
use lockgate_config::CheckEvery;
use lockgate_plugin_host::{Fetched, Invocation};
use lockgate_store::config_digest;

/// What one check did.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    /// The resource checked (one of a group sharing a history).
    pub resource: String,
    /// Number of versions seen for the first time, or why the check failed.
    pub result: std::result::Result<usize, Arc<SchedulerError>>,
}

impl Scheduler {
    /// Resources that are polled, grouped by (type, source): one entry per group, with the
    /// shortest `check_every` of the group.
    pub fn check_groups(&self) -> Vec<(&ResourcePlan, CheckEvery)> {
        let mut groups: BTreeMap<String, (&ResourcePlan, CheckEvery)> = BTreeMap::new();
        for r in self.inner.plan.resources.iter().filter(|r| r.polled) {
            let key = config_digest(&r.type_name, &r.identity);
            let every = r.check_every;
            groups
                .entry(key)
                .and_modify(|(_, e)| *e = shortest(*e, every))
                .or_insert((r, every));
        }
        groups.into_values().collect()
    }

    /// Checks every polled resource once, at the same time.
    pub async fn check_all(&self) -> Vec<CheckOutcome> {
        let mut set = JoinSet::new();
        for (r, _) in self.check_groups() {
            let this = self.clone();
            let name = r.name.clone();
            set.spawn(async move {
                let result = this.check(&name).await.map_err(Arc::new);
                CheckOutcome {
                    resource: name,
                    result,
                }
            });
        }
        let mut out = Vec::new();
        while let Some(done) = set.join_next().await {
            if let Ok(outcome) = done {
                out.push(outcome);
            }
        }
        out.sort_by(|a, b| a.resource.cmp(&b.resource));
        out
    }

    /// Checks `resource` now (`lockgate check`, a webhook): asks the plugin for versions since
    /// the newest stored one and stores the new ones. Returns how many were new.
    pub async fn check(&self, resource: &str) -> Result<usize> {
        let r = self.inner.plan.resource(resource).ok_or_else(|| {
            SchedulerError::Refused(format!("no resource `{resource}` in the pipeline"))
        })?;
        let plugin = r.plugin.as_ref().ok_or_else(|| {
            SchedulerError::Refused(format!(
                "resource `{resource}`: the plugin of type `{}` is not loaded",
                r.type_name
            ))
        })?;
        let cache = self.inner.runner.cache_dir(resource);
        std::fs::create_dir_all(&cache).map_err(|e| {
            SchedulerError::Refused(format!(
                "cannot create the cache of `{resource}` at {}: {e}",
                cache.display()
            ))
        })?;
        let from = self
            .inner
            .store
            .latest_version(resource)
            .await?
            .map(|v| v.version);
        let log = std::sync::Arc::new(CheckLog(
            resource.to_owned(),
            self.inner.plan.redactor.clone(),
        ));
        let inv = Invocation::new(r.grants.clone().cache(cache.clone()))
            .limits(r.limits)
            .log(log);
        let redactor = &self.inner.plan.redactor;
        let checked = plugin.check(&inv, &r.source, from.as_ref()).await;
        if let Some(held) = crate::cache_dir::trim(&cache, r.limits.cache_bytes) {
            tracing::warn!(
                "{}",
                crate::cache_dir::notice(resource, held, r.limits.cache_bytes)
            );
        }
        let versions = crate::metrics::checked(checked).map_err(|e| {
            SchedulerError::Refused(format!(
                "check of `{resource}` failed: {}",
                redactor.redact(&e.report().to_string())
            ))
        })?;
        for version in &versions {
            crate::secrets::refuse_secret_version(
                redactor,
                &format!("check of `{resource}`"),
                version,
            )
            .map_err(|e| SchedulerError::Refused(e.to_string()))?;
        }
        let fetched: Vec<Fetched> = versions
            .into_iter()
            .map(|version| Fetched {
                version,
                metadata: Vec::new(),
            })
            .collect();
        let saved = self.inner.store.save_versions(resource, &fetched).await?;
        if let Some(pin) = &r.pinned
            && self.inner.store.pinned_version(resource).await?.is_none()
            && self
                .inner
                .store
                .find_version(resource, pin)
                .await?
                .is_some()
        {
            self.inner.store.pin_version(resource, pin).await?;
        }
        if !saved.new_versions.is_empty() {
            tracing::info!(resource, "{} new version(s)", saved.new_versions.len());
            self.wake();
        }
        Ok(saved.new_versions.len())
    }

    /// Spawns one loop per check group, each checking at once and then at its `check_every`
    /// with ±10 % jitter; a `never` group is checked once (as `lockgate run` does), then only
    /// by webhooks and `lockgate check`.
    pub(super) fn spawn_check_loops(&self) -> JoinSet<()> {
        let mut set = JoinSet::new();
        for (r, every) in self.check_groups() {
            let this = self.clone();
            let name = r.name.clone();
            set.spawn(async move {
                loop {
                    if let Err(e) = this.check(&name).await {
                        tracing::warn!(resource = %name, "{}", e.report());
                    }
                    let CheckEvery::Interval(every) = every else {
                        return;
                    };
                    tokio::time::sleep(jitter(every)).await;
                }
            });
        }
        set
    }
}

fn shortest(a: CheckEvery, b: CheckEvery) -> CheckEvery {
    match (a, b) {
        (CheckEvery::Interval(x), CheckEvery::Interval(y)) => CheckEvery::Interval(x.min(y)),
        (CheckEvery::Never, other) | (other, CheckEvery::Never) => other,
    }
}

/// `every` ± 10 %, so that many resources do not check in lockstep.
fn jitter(every: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let spread = every.as_secs_f64() * 0.2;
    let offset = (f64::from(nanos % 1000) / 1000.0 - 0.5) * spread;
    Duration::from_secs_f64((every.as_secs_f64() + offset).max(0.1))
}

/// Check output goes to the engine's log (checks belong to no build).
/// Where a check's plugin output goes: the engine's debug log, redacted.
struct CheckLog(String, lockgate_config::Redactor);

/// A check's log goes to the server's log: the plugin's own lines at debug level, the engine's
/// notices about it (a refused connection or file, versions dropped past a limit) as warnings.
impl lockgate_plugin_host::LogSink for CheckLog {
    fn line(&self, line: lockgate_plugin_host::LogLine) {
        let text = self.1.redact(&line.message);
        if line.source == lockgate_plugin_host::LogSource::Engine {
            tracing::warn!(resource = %self.0, "check: {text}");
        } else {
            tracing::debug!(resource = %self.0, "check: {text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(60)).as_secs_f64();
            assert!((54.0..=66.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn the_shortest_interval_of_a_group_wins_and_never_yields() {
        let m = |s| CheckEvery::Interval(Duration::from_secs(s));
        assert_eq!(shortest(m(60), m(30)), m(30));
        assert_eq!(shortest(CheckEvery::Never, m(30)), m(30));
        assert_eq!(
            shortest(CheckEvery::Never, CheckEvery::Never),
            CheckEvery::Never
        );
    }
}
