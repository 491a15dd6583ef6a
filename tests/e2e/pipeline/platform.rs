//! Issue 13 end to end: the promotion model on a platform pipeline of 30 jobs
//! (`tests/fixtures/pipelines/platform.yml`): jobs of one environment getting different subsets
//! of the promoted resources, shared resources, a serial group spanning staging and production,
//! manual production deploys behind an approval, and a staging smoke test that rejects
//! cf-release 13. `status`, `why` and `approve` are checked at each step.

use serde_json::Value;

use super::{Project, blockers, statuses, versions};

const PLATFORM: &str = include_str!("../../fixtures/pipelines/platform.yml");

const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];

fn platform() -> Project {
    let p = Project::new(
        PLATFORM,
        &[
            "upstream",
            "envs/development",
            "envs/staging",
            "envs/production",
        ],
    );
    for r in [
        "cf-release",
        "logs-release",
        "stemcell",
        "infra-config",
        "task-image",
        "root-ca",
    ] {
        p.write(&format!("upstream/{r}"), "1");
    }
    p
}

fn id(candidate: &Value) -> Option<i64> {
    candidate["id"].as_i64()
}

/// The number of builds of `job` in each status, in the order they ran.
fn count(p: &Project, job: &str) -> usize {
    p.builds(job).len()
}

/// Deploys production by hand: both stacks, as an operator would after the approval.
fn deploy_production(p: &Project) {
    p.ok(&["trigger", "deploy-cf-production"]);
    p.ok(&["trigger", "deploy-logs-production"]);
    p.run_pipeline(0);
}

#[test]
fn a_platform_pipeline_promotes_one_candidate_per_change_through_every_environment() {
    let p = platform();

    // Validation names the shared resources and accepts their gets without `passed`.
    let r = p.ok(&["validate", "pipeline.yml"]);
    assert!(r.stdout.contains("shared"), "{}", r.stdout);

    // 1. Everything at version 1 goes through development and staging; production waits.
    p.run_pipeline(0);
    let status = p.status();
    let dev = &status["development"];
    let first = id(&dev["qualified"]).expect("development qualified a candidate");
    assert_eq!(id(&dev["current"]), Some(first), "{dev}");
    let staging = &status["staging"];
    assert_eq!(id(&staging["qualified"]), Some(first), "{staging}");
    assert_eq!(id(&staging["current"]), Some(first), "{staging}");
    let held = versions(&staging["current"]);
    assert_eq!(
        held,
        [
            "cf-release {number: 1}",
            "infra-config {number: 1}",
            "logs-release {number: 1}",
            "stemcell {number: 1}",
        ],
        "shared resources are not part of candidates"
    );
    let production = &status["production"];
    assert!(production["current"].is_null(), "{production}");
    assert_eq!(id(&production["next"]), Some(first), "{production}");
    let why = p.why("production");
    assert!(
        blockers(&why)
            .iter()
            .any(|b| b.contains(&format!("candidate #{first} waits for approval"))),
        "{why}"
    );
    // No production job ran: the deploys are manual and the rest waits for the approval.
    for job in [
        "plan-production",
        "deploy-cf-production",
        "deploy-logs-production",
    ] {
        assert_eq!(count(&p, job), 0, "{job}");
    }

    // 2. `approve production` admits the candidate the jobs wait for, for all of them.
    let r = p.ok(&["approve", "production", "--as", "ops"]);
    assert!(
        r.stdout.contains(&format!("candidate #{first}")),
        "{}",
        r.stdout
    );
    p.run_pipeline(0);
    assert_eq!(statuses(&p.builds("plan-production")), ["succeeded"]);
    let why = p.why("production");
    assert!(
        blockers(&why)
            .iter()
            .any(|b| b.contains("lockgate trigger deploy-cf-production")),
        "{why}"
    );
    deploy_production(&p);
    let production = &p.status()["production"];
    assert_eq!(id(&production["current"]), Some(first), "{production}");
    assert_eq!(id(&production["qualified"]), Some(first), "{production}");
    assert!(blockers(production).is_empty(), "{production}");
    assert_eq!(p.read("envs/production/cf").as_deref(), Some("1"));

    // 3. A new cf-release: one new candidate per environment, and only the cf stream (and the
    //    jobs that combine both streams) runs again.
    p.write("upstream/cf-release", "2");
    let logs_before = count(&p, "deploy-logs-development");
    p.run_pipeline(0);
    assert_eq!(count(&p, "deploy-logs-development"), logs_before);
    assert_eq!(count(&p, "deploy-logs-staging"), 1);
    let status = p.status();
    let second = id(&status["development"]["qualified"]).unwrap();
    assert_ne!(second, first);
    assert_eq!(id(&status["development"]["current"]), Some(second));
    assert_eq!(id(&status["staging"]["qualified"]), Some(second));
    assert!(versions(&status["staging"]["current"]).contains(&"cf-release {number: 2}".into()));
    assert_eq!(id(&status["production"]["next"]), Some(second));
    assert_eq!(id(&status["production"]["current"]), Some(first));

    // An approval of an automatic environment is refused and records nothing.
    let r = p.lg(&["approve", "staging", "--as", "ops"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("does not require approval"),
        "{}",
        r.stderr
    );

    p.ok(&["approve", "production", "--as", "ops"]);
    p.run_pipeline(0);
    deploy_production(&p);
    assert_eq!(p.read("envs/production/cf").as_deref(), Some("2"));
    assert_eq!(id(&p.status()["production"]["current"]), Some(second));

    // 4. cf-release 13 passes development and fails staging's smoke test: `why production`
    //    names the job, the build and the failing case in staging; nothing reaches production.
    p.write("upstream/cf-release", "13");
    p.run_pipeline(1);
    let status = p.status();
    let broken = id(&status["development"]["qualified"]).unwrap();
    assert_ne!(broken, second);
    assert_eq!(
        id(&status["staging"]["qualified"]),
        Some(second),
        "{status:?}"
    );
    // Staging runs the broken candidate (it was deployed) but has not qualified it.
    assert_eq!(id(&status["staging"]["current"]), Some(broken));
    assert!(
        status["production"]["next"].is_null(),
        "{:?}",
        status["production"]
    );
    let why = p.why("production");
    let text = blockers(&why).join("\n");
    assert!(
        text.contains(&format!("candidate #{broken}")) && text.contains("smoke-cf-staging"),
        "{text}"
    );
    assert!(text.contains("failed"), "{text}");
    assert!(text.contains("smoke"), "{text}");
    let r = p.lg(&["approve", "production", "--as", "ops"]);
    assert_ne!(r.code, 0, "nothing waits for approval: {}", r.stdout);
    let r = p.lg(&["approve", "production", &broken.to_string(), "--as", "ops"]);
    assert_ne!(
        r.code, 0,
        "a candidate not qualified in staging: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("not qualified in `staging`"),
        "{}",
        r.stderr
    );

    // 5. The fix flows through; the logs stream, changed meanwhile, goes with it.
    p.write("upstream/cf-release", "14");
    p.write("upstream/logs-release", "2");
    p.run_pipeline(0);
    let status = p.status();
    let fixed = id(&status["staging"]["qualified"]).unwrap();
    assert_eq!(id(&status["development"]["qualified"]), Some(fixed));
    let staged = versions(&status["staging"]["qualified"]);
    assert!(
        staged.contains(&"cf-release {number: 14}".into()),
        "{staged:?}"
    );
    assert!(
        staged.contains(&"logs-release {number: 2}".into()),
        "{staged:?}"
    );
    assert_eq!(id(&status["production"]["next"]), Some(fixed));

    // 6. A shared resource changes: the jobs that trigger on it run again in every
    //    environment, without an approval; no candidate changes; a job that gets it without
    //    `trigger` does not run for it.
    let production_plans = count(&p, "plan-production");
    p.write("upstream/task-image", "2");
    p.run_pipeline(0);
    let status = p.status();
    for env in ENVIRONMENTS {
        assert_eq!(
            statuses(&p.builds(&format!("lint-{env}"))).last(),
            Some(&"succeeded"),
            "{env}"
        );
    }
    assert_eq!(count(&p, "lint-production"), 2);
    assert_eq!(count(&p, "plan-production"), production_plans);
    assert_eq!(id(&status["staging"]["qualified"]), Some(fixed));
    assert_eq!(id(&status["production"]["current"]), Some(second));
}
