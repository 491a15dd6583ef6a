//! Issue 13: the engine killed at every transaction boundary of build completion, promotion and
//! rollback (the store's named crash points, armed with `LOCKGATE_CRASH_POINT=NAME:K`: the
//! process aborts the K-th time it gets there, as under `kill -9`), on SQLite and PostgreSQL.
//! After each crash the engine restarts and the pipeline runs on; the store's promotion audit
//! must find nothing: no candidate in an environment without its qualification upstream, no
//! record twice, no success without its record, interrupted builds re-run, no environment
//! going back. And the pipeline still ends where it would have without the crash.

use std::process::Command;

use lockgate_e2e::{PgSchema, Run, pg_url_or_skip, run};
use lockgate_store::{CRASH_POINTS, Store};

use super::{Project, THREE_ENVIRONMENTS, versions};

const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];

/// A three-environment project on SQLite (`db: None`) or on a PostgreSQL schema of its own.
struct Crashing {
    project: Project,
    db: Option<PgSchema>,
}

impl Crashing {
    fn new(pg: Option<&str>) -> Self {
        let project = Project::new(
            THREE_ENVIRONMENTS,
            &[
                "upstream",
                "envs/development",
                "envs/staging",
                "envs/production",
            ],
        );
        project.write("upstream/release", "1");
        let mut project = project;
        let db = pg.map(|url| PgSchema::new(url, "lg_crash"));
        project.database = db.as_ref().map(PgSchema::state);
        Self { project, db }
    }

    fn state(&self) -> String {
        match &self.db {
            Some(db) => db.state(),
            None => self
                .project
                .path(".lockgate/state.db")
                .to_string_lossy()
                .into_owned(),
        }
    }

    fn command(&self, crash: Option<&str>) -> Command {
        let mut cmd = self.project.command();
        if let Some(point) = crash {
            cmd.env("LOCKGATE_CRASH_POINT", point);
        }
        cmd
    }

    fn lg(&self, args: &[&str], crash: Option<&str>) -> Run {
        run(self.command(crash).args(args))
    }

    /// `lockgate run`, which must end normally (0: all green, 1: a test failed).
    fn run_on(&self) -> Run {
        let r = self.lg(&["run", "pipeline.yml"], None);
        assert!(
            r.code == 0 || r.code == 1,
            "`lockgate run` after a crash:\n{}{}",
            r.stdout,
            r.stderr
        );
        r
    }

    /// `lockgate <args>` with crash point `point` armed. Whether it got there or not, the
    /// command ends (aborted or done); returns whether it crashed.
    fn crash(&self, args: &[&str], point: &str) -> bool {
        let r = self.lg(args, Some(point));
        let crashed = r.stderr.contains("crash point");
        assert!(
            crashed || r.code == 0 || r.code == 1,
            "lockgate {args:?} with {point}:\n{}{}",
            r.stdout,
            r.stderr
        );
        crashed
    }

    /// The store's promotion audit, which must find nothing.
    fn audit(&self, after: &str) {
        let state = self.state();
        let envs: Vec<String> = ENVIRONMENTS.iter().map(|e| (*e).to_owned()).collect();
        let violations = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let store = Store::open(&state).await.expect("open the store");
                let v = store.audit_promotion(&envs).await.expect("audit");
                store.close().await;
                v
            });
        assert!(
            violations.is_empty(),
            "after {after}:\n{}",
            violations.join("\n")
        );
    }
}

/// Crashes at `point` (its K-th pass for K in 1 and 2) while releases 1 then 2 flow and
/// production is approved; after each crash, restarts, audits, and checks the end state.
fn crash_everywhere(pg: Option<&str>) {
    for point in CRASH_POINTS.iter().filter(|p| !p.starts_with("rollback")) {
        for k in 1..=2 {
            let armed = format!("{point}:{k}");
            let c = Crashing::new(pg);
            let crashed = c.crash(&["run", "pipeline.yml"], &armed);
            c.audit(&format!("{armed}, crashed: {crashed}"));
            c.run_on();
            c.audit(&format!("the restart after {armed}"));
            c.lg(&["approve", "production", "--as", "ops"], None);
            c.project.write("upstream/release", "2");
            c.crash(&["run", "pipeline.yml"], &armed);
            c.run_on();
            c.audit(&format!("release 2 and {armed}"));
            let status = c.project.status();
            for env in ["development", "staging"] {
                assert_eq!(
                    versions(&status[env]["qualified"]),
                    ["release {number: 2}"],
                    "{armed}: {env}: {status:?}"
                );
            }
            assert_eq!(
                versions(&status["production"]["current"]),
                ["release {number: 1}"],
                "{armed}: production runs what was approved: {status:?}"
            );
        }
    }
    // A rollback killed between queueing its builds and recording who asked leaves neither.
    let c = Crashing::new(pg);
    c.run_on();
    c.lg(&["approve", "production", "--as", "ops"], None);
    c.run_on();
    c.project.write("upstream/release", "2");
    c.run_on();
    c.lg(&["approve", "production", "--as", "ops"], None);
    c.run_on();
    assert!(c.crash(
        &["rollback", "production", "--as", "ops"],
        "rollback.before_event"
    ));
    assert_eq!(
        c.project.builds("deploy-prod").len(),
        2,
        "no rollback build"
    );
    c.audit("a crashed rollback");
    c.lg(&["rollback", "production", "--as", "ops"], None);
    c.run_on();
    c.audit("the rollback");
    let production = &c.project.status()["production"];
    assert_eq!(
        versions(&production["current"]),
        ["release {number: 1}"],
        "{production}"
    );
}

#[test]
fn killed_at_every_crash_point_on_sqlite_the_promotion_invariants_hold() {
    crash_everywhere(None);
}

#[test]
fn killed_at_every_crash_point_on_postgres_the_promotion_invariants_hold() {
    let Some(url) =
        pg_url_or_skip("killed_at_every_crash_point_on_postgres_the_promotion_invariants_hold")
    else {
        return;
    };
    crash_everywhere(Some(&url));
}
