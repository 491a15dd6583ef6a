//! `examples/cloud-gov` end to end through the binary: the example's own pipeline, setup script
//! and plugins; a local HTTP server stands in for `python3 -m http.server` over the environments.

use lockgate_e2e::CloudGov;

#[test]
fn the_cloud_gov_example_walks_releases_to_production_and_stops_a_breaking_one() {
    let ex = CloudGov::new();
    let r = ex.lg(&["validate", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // 1. development and staging pass; production waits for an approval.
    let r = ex.lg(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("waits for approval to enter `production`"),
        "{}",
        r.stdout
    );
    assert!(
        ex.deployed_versions("production")
            .contains("\"app\": \"1.0.0\"")
    );
    let r = ex.lg(&["approve", "production", "--as", "alice"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ex.lg(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // 2. app 1.1.0 follows.
    ex.release("1.1.0");
    assert_eq!(ex.lg(&["run", "pipeline.yml"]).code, 0);
    assert!(
        ex.deployed_versions("production")
            .contains("\"app\": \"1.0.0\""),
        "held until approved"
    );
    assert_eq!(ex.lg(&["approve", "production", "--as", "alice"]).code, 0);
    assert_eq!(ex.lg(&["run", "pipeline.yml"]).code, 0);
    assert!(
        ex.deployed_versions("production")
            .contains("\"app\": \"1.1.0\""),
        "{}",
        ex.deployed_versions("production")
    );

    // 3. app 2.0.0 breaks the upgrade check in staging and never reaches production.
    ex.release("2.0.0");
    let r = ex.lg(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let why = ex.lg(&["why", "staging"]);
    assert!(
        why.stdout.contains("major upgrade 1.1.0 → 2.0.0"),
        "{}",
        why.stdout
    );
    // The first environment has no upstream to wait for, and approving it would mean nothing.
    let why = ex.lg(&["why", "development"]);
    assert!(
        why.stdout
            .contains("`development` is the first environment"),
        "{}",
        why.stdout
    );
    let r = ex.lg(&["approve", "development", "--as", "mallory"]);
    assert!(
        r.code != 0 && r.stderr.contains("does not require approval"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = ex.lg(&["approve", "production", "--as", "mallory"]);
    assert_ne!(
        r.code, 0,
        "nothing qualified waits for production: {}",
        r.stdout
    );
    assert!(
        ex.deployed_versions("production")
            .contains("\"app\": \"1.1.0\"")
    );
}
