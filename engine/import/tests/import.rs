//! `lockgate_import` on Concourse pipelines written the way operations teams write them
//! (`tests/fixtures/`): what is reported and where, determinism, and that the output is a
//! Lockgate pipeline `lockgate-config` reads and whose structure validates. The full
//! validation with the real plugins runs through the binary in `tests/e2e/import.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use lockgate_config::{Vars, extend_with_checks, parse_str, validate_structure};
use lockgate_import::{ImportError, Imported, Item, Options, import_concourse};

const PLATFORM: &str = include_str!("fixtures/platform.yml");
const LEGACY: &str = include_str!("fixtures/legacy.yml");

fn import(name: &str, text: &str) -> Imported {
    import_with(name, text, &Options::default())
}

fn import_with(name: &str, text: &str, options: &Options) -> Imported {
    import_concourse(Path::new(name), text, options)
        .unwrap_or_else(|e| panic!("importing {name} failed: {e}"))
}

/// 1-based line and column of the `nth` (0-based) occurrence of `needle` in `text`.
fn pos(text: &str, needle: &str, nth: usize) -> (u32, u32) {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} is not in the fixture"))
        .0;
    let line = text[..at].matches('\n').count() as u32 + 1;
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..at].chars().count() as u32 + 1)
}

/// The report's item at `(line, column)` whose construct contains `construct`.
fn item<'a>(report: &'a [Item], at: (u32, u32), construct: &str) -> &'a Item {
    report
        .iter()
        .find(|i| (i.line, i.column) == at && i.construct.contains(construct))
        .unwrap_or_else(|| {
            panic!(
                "no report item `{construct}` at {}:{}; the report:\n{}",
                at.0,
                at.1,
                lockgate_import::render(report)
            )
        })
}

/// Vars for every `((name))` and `((name.field))` of the text, so that it parses.
fn vars_for(text: &str) -> Vars {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rest = text;
    while let Some(start) = rest.find("((") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("))") else { break };
        let inner = &after[..end];
        let (name, field) = inner.split_once('.').unwrap_or((inner, ""));
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            let f = fields.entry(name.to_owned()).or_default();
            if !field.is_empty() {
                f.push(field.to_owned());
            }
        }
        rest = &after[end + 2..];
    }
    let mut vars = Vars::new();
    for (name, fs) in fields {
        if fs.is_empty() {
            vars.set(&name, "value-of-a-var");
        } else {
            let map: serde_json::Map<String, serde_json::Value> = fs
                .into_iter()
                .map(|f| (f, serde_json::Value::from("value-of-a-field")))
                .collect();
            vars.set(&name, serde_json::Value::Object(map));
        }
    }
    vars
}

/// Parses the imported pipeline and checks its structure; returns the plain report.
fn lockgate_problems(pipeline: &str) -> String {
    let parsed = parse_str(Path::new("imported.yml"), pipeline, &vars_for(pipeline));
    let mut report = parsed.report;
    extend_with_checks(&mut report, validate_structure(&parsed.pipeline));
    report.render_plain()
}

#[test]
fn the_platform_pipeline_is_imported_with_every_job_in_its_environment() {
    let out = import("platform.yml", PLATFORM);
    let p = &out.pipeline;
    assert!(p.starts_with("# Imported from platform.yml by `lockgate import concourse`."));
    assert!(
        p.contains("environments: [development, staging, production]\n"),
        "{p}"
    );
    assert_eq!(
        p.matches("\n  - name: ").count() - 16,
        36,
        "36 jobs after 16 resources"
    );
    for (job, env) in [
        ("build-api", "development"),
        ("cleanup-dev", "development"),
        ("bump-major", "development"),
        ("performance-staging", "staging"),
        ("upgrade-routing-staging", "staging"),
        ("tag-release", "production"),
        ("promote-api-image-prod", "production"),
    ] {
        assert!(
            p.contains(&format!("  - name: {job}\n    environment: {env}\n")),
            "{job} in {env}:\n{p}"
        );
    }
    // Serial groups, hooks, merge keys, in_parallel with options, try, do, attempts, timeout.
    for expected in [
        "    serial: true\n    serial_groups: [dev-deploy]\n",
        "    on_failure:\n      put: notify\n",
        "          fail_fast: true\n          limit: 2\n",
        "          - try:\n              task: warm-cache\n",
        "      - do:\n",
        "        ensure:\n          put: env-lock\n",
        "        timeout: 20m\n        attempts: 2\n",
        "        file: ci-tasks/tasks/deploy.yml\n",
        "        version: every\n",
        "    on_success:\n      put: notify\n",
        // The anchored migration step, its params replaced through `<<:`.
        "        file: ci-tasks/tasks/migrate.yml\n        params:\n          DATABASE_URL: ((staging.database_url))\n",
    ] {
        assert!(p.contains(expected), "missing {expected:?} in:\n{p}");
    }
    // Mapped types point at the first-party plugins; the others are placeholders.
    for expected in [
        "  git:\n    plugin: plugins/git.wasm\n",
        "  registry-image:\n    plugin: plugins/registry_image.wasm\n",
        "  s3:\n    plugin: plugins/s3.wasm\n",
        "  bosh-io-stemcell:\n    plugin: plugins/bosh_io_stemcell.wasm\n",
        "  git-pinned:\n    plugin: plugins/git.wasm\n",
        "    plugin: plugins/TODO-semver.wasm\n",
        "    plugin: plugins/TODO-pool.wasm\n",
        "    plugin: plugins/TODO-slack-notification.wasm\n",
    ] {
        assert!(p.contains(expected), "missing {expected:?} in:\n{p}");
    }
    assert!(
        !p.contains("unused-type"),
        "unused custom types are left out"
    );
    // Sources: keys renamed, vars kept verbatim, SSH rewritten, grants derived.
    for expected in [
        "      region: eu-west-1\n",
        "      api_url: https://api.github.com\n",
        "      access_token: ((vault:github/token))\n",
        "      uri: https://github.com/acme/worker.git\n",
        "      username: ((registry.username))\n",
        "      light: false\n",
        "      network: [\"registry.acme.internal:443\"]\n",
    ] {
        assert!(p.contains(expected), "missing {expected:?} in:\n{p}");
    }
    // Shared: gotten without `passed` by jobs of several environments.
    for shared in ["ci-tasks", "cf-cli", "nightly"] {
        let at = p.find(&format!("  - name: {shared}\n")).unwrap();
        let next = p[at + 4..]
            .find("  - name: ")
            .map_or(p.len(), |n| at + 4 + n);
        assert!(
            p[at..next].contains("    shared: true\n"),
            "{shared} is shared"
        );
    }
    for promoted in ["release", "stemcell", "api-image"] {
        let at = p.find(&format!("  - name: {promoted}\n")).unwrap();
        let next = p[at + 4..]
            .find("  - name: ")
            .map_or(p.len(), |n| at + 4 + n);
        assert!(!p[at..next].contains("shared"), "{promoted} is promoted");
    }
    // Task inputs keep their mount path and optionality.
    assert!(
        p.contains("            - name: api-src\n              path: src\n"),
        "{p}"
    );
    assert!(
        p.contains("            - name: fixtures\n              optional: true\n"),
        "{p}"
    );
    // Inline tasks: the component is a placeholder, the command a comment, args of programs kept.
    assert!(p.contains("component: tasks/unit.wasm"), "{p}");
    assert!(
        p.contains("component: tasks/unit-2.wasm"),
        "a different command, another placeholder"
    );
    assert!(
        p.contains(
            "component: tasks/scan.wasm\n          args: [fs, \"--exit-code\", \"1\", release]\n"
        ),
        "{p}"
    );
    assert!(
        p.contains("# Concourse ran `sh` with the arguments:\n        #   - -exc\n        #   - cd src\n        #     go test ./...\n"),
        "{p}"
    );
    assert!(
        p.contains("            SETTINGS: \"{\\\"count\\\":1,\\\"race\\\":true}\"\n")
            || p.contains("SETTINGS: \"{\\\"race\\\":true,\\\"count\\\":1}\""),
        "{p}"
    );
}

#[test]
fn the_report_names_every_construct_not_translated_at_its_position() {
    let out = import("platform.yml", PLATFORM);
    let r = &out.report;
    let t = PLATFORM;
    // Top level.
    item(r, pos(t, "anchors:", 0), "top-level `anchors`");
    item(r, pos(t, "var_sources:", 0), "`var_sources`");
    // Types and resources.
    let slack = item(
        r,
        pos(t, "slack-notification\n", 0),
        "resource type `slack-notification`",
    );
    assert!(
        slack
            .reason
            .contains("cfcommunity/slack-notification-resource"),
        "{slack}"
    );
    item(r, pos(t, "unused-type", 0), "resource type `unused-type`");
    item(r, pos(t, "icon:", 0), "`icon` of resource `api-src`");
    item(
        r,
        pos(t, "private_key:", 0),
        "`source.private_key` of resource `worker-src`",
    );
    item(
        r,
        pos(t, "git@github.com:acme/worker.git", 0),
        "`source.uri` of resource `worker-src`",
    );
    item(
        r,
        pos(t, "server_side_encryption", 0),
        "`source.server_side_encryption` of resource `release`",
    );
    item(r, pos(t, "semver", 0), "the type of resource `version`");
    item(
        r,
        pos(t, "initial_version: true", 0),
        "`source.initial_version` of resource `nightly`",
    );
    item(
        r,
        pos(t, "((vault:github/token))", 0),
        "`((vault:github/token))`",
    );
    // Jobs and steps; an anchored construct is reported where it is written.
    item(
        r,
        pos(t, "build_log_retention", 0),
        "`build_log_retention` of job `deploy-api-dev`",
    );
    item(
        r,
        pos(t, "privileged: true", 0),
        "`privileged` of task `build-image` of job `build-api`",
    );
    item(
        r,
        pos(t, "additional_tags", 0),
        "`params.additional_tags` of `put: api-image`",
    );
    item(
        r,
        pos(t, "get_params", 0),
        "`get_params` of `put: api-image`",
    );
    let image = item(
        r,
        pos(t, "image: image/image.tar", 0),
        "`params.image` of `put: api-image`",
    );
    assert!(image.reason.contains("`from: image`"), "{image}");
    item(
        r,
        pos(t, "depth: 1", 0),
        "`params.depth` of `get: api-src` in job `unit-api`",
    );
    item(r, pos(t, "tags: [internal]", 0), "`tags` of `task: unit`");
    item(
        r,
        pos(t, "platform: linux", 0),
        "`platform` of task `unit` of job `unit-api`",
    );
    item(
        r,
        pos(t, "image_resource:", 0),
        "`image_resource` of task `unit` of job `unit-api`",
    );
    item(
        r,
        pos(t, "run:\n            path: sh", 0),
        "`run` of task `unit` of job `unit-api`",
    );
    item(
        r,
        pos(t, "SETTINGS", 0).clone_with_column_of(t, "{race"),
        "`params.SETTINGS`",
    );
    // Inputs' `path` and `optional` carry over: nothing to report.
    assert!(
        !r.iter()
            .any(|i| i.construct.contains("an entry of `inputs`"))
    );
    item(r, pos(t, "on_abort:", 0), "`on_abort` of job `unit-worker`");
    item(
        r,
        pos(t, "max_in_flight: 2", 0),
        "`max_in_flight` of job `package-release`",
    );
    item(
        r,
        pos(t, "vars: {format: tgz}", 0),
        "`vars` of task `package`",
    );
    item(
        r,
        pos(t, "acl: private", 0).clone_with_column_of(t, "acl"),
        "`params.acl` of `put: release`",
    );
    item(r, pos(t, "detect", 0), "`inputs: detect` of `put: release`");
    item(
        r,
        pos(t, "include_source_tarball", 0),
        "`params.include_source_tarball` of `get: cf-cli`",
    );
    item(
        r,
        pos(t, "set_pipeline: self", 0),
        "`set_pipeline` step of job `integration-dev`",
    );
    item(
        r,
        pos(t, "load_var: stale", 0),
        "`load_var` step of job `cleanup-dev`",
    );
    item(r, pos(t, "((.:stale))", 0), "`((.:stale))`");
    item(r, pos(t, "across:", 0), "`across` of `task: acceptance`");
    item(
        r,
        pos(t, "public: true", 0),
        "`public` of job `performance-staging`",
    );
    item(
        r,
        pos(t, "container_limits", 0),
        "`container_limits` of task `load-test`",
    );
    item(
        r,
        pos(t, "preserve_filename", 0),
        "`params.preserve_filename` of `get: stemcell`",
    );
    item(
        r,
        pos(t, "disable_manual_trigger", 0),
        "`disable_manual_trigger` of job `tag-release`",
    );
    let git_put = item(
        r,
        pos(t, "{repository: api-src", 0),
        "`put: api-src` in job `tag-release`",
    );
    assert!(git_put.reason.contains("placeholder"), "{git_put}");
    item(
        r,
        pos(t, "repository: api-src", 0),
        "`params.repository` of `put: api-src`",
    );
    item(
        r,
        pos(t, "name: ops", 0).clone_with_column_of(t, "ops\n"),
        "group `ops`",
    );
    item(
        r,
        pos(t, "name: all", 0).clone_with_column_of(t, "all\n"),
        "group `all`",
    );
    item(
        r,
        pos(t, "name: bump-major", 0).clone_with_column_of(t, "bump-major\n"),
        "job `bump-major`",
    );
    // Sorted by position, no duplicates, each line `file:line:column: construct: reason`.
    let mut sorted = r.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(&sorted, r);
    for line in lockgate_import::render(r).lines() {
        let mut parts = line.splitn(4, ':');
        assert_eq!(parts.next(), Some("platform.yml"));
        assert!(parts.next().unwrap().parse::<u32>().unwrap() > 0, "{line}");
        assert!(parts.next().unwrap().parse::<u32>().unwrap() > 0, "{line}");
    }
}

/// Positions on the same line as `self`, at the first `needle` after it.
trait SameLine {
    fn clone_with_column_of(self, text: &str, needle: &str) -> (u32, u32);
}

impl SameLine for (u32, u32) {
    fn clone_with_column_of(self, text: &str, needle: &str) -> (u32, u32) {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(self.0 as usize - 1)
            .map(str::len)
            .sum();
        let line = text[line_start..].split('\n').next().unwrap();
        let at = line
            .find(needle.split('\n').next().unwrap())
            .unwrap_or_else(|| panic!("`{needle}` not on line {}", self.0));
        (self.0, line[..at].chars().count() as u32 + 1)
    }
}

#[test]
fn importing_twice_gives_the_same_bytes() {
    for (name, text) in [("platform.yml", PLATFORM), ("legacy.yml", LEGACY)] {
        let a = import(name, text);
        let b = import(name, text);
        assert_eq!(a.pipeline, b.pipeline);
        assert_eq!(a.report, b.report);
    }
}

#[test]
fn the_output_reads_as_a_lockgate_pipeline_and_its_structure_validates() {
    for (name, text) in [("platform.yml", PLATFORM), ("legacy.yml", LEGACY)] {
        let out = import(name, text);
        assert_eq!(
            lockgate_problems(&out.pipeline),
            "",
            "{name}:\n{}",
            out.pipeline
        );
    }
}

#[test]
fn environments_come_from_job_names_without_groups() {
    let out = import("legacy.yml", LEGACY);
    let p = &out.pipeline;
    assert!(
        p.contains("environments: [development, staging, production]\n"),
        "{p}"
    );
    assert!(p.contains("  - name: terraform-stage\n    environment: staging\n"));
    assert!(p.contains("  - name: build\n    environment: development\n"));
    // `git` redefined with Concourse's own image is still git; SSH became HTTPS.
    assert!(p.contains("  git:\n"));
    assert!(p.contains("plugin: plugins/git.wasm"));
    assert!(
        p.contains("uri: https://gitlab.acme.internal/ops/infra.git\n"),
        "{p}"
    );
    assert!(p.contains("  - name: every-hour\n"));
    assert!(p.contains("    shared: true\n"));
    assert!(
        p.contains("  - in_parallel:\n") || p.contains("      - in_parallel:\n"),
        "{p}"
    );
    let r = &out.report;
    item(r, pos(LEGACY, "aggregate:", 0), "`aggregate`");
    item(
        r,
        pos(LEGACY, "privileged: true", 0),
        "`privileged` of resource type `terraform`",
    );
    item(
        r,
        pos(LEGACY, "build: image", 0).clone_with_column_of(LEGACY, "build: image"),
        "`params.build` of `put: app-image`",
    );
    item(
        r,
        pos(LEGACY, "on_abort", 0),
        "`on_abort` of job `terraform-dev`",
    );
    item(
        r,
        pos(LEGACY, "insecure_registries", 0),
        "`source.insecure_registries` of resource `app-image`",
    );
    let build = item(
        r,
        pos(LEGACY, "name: build", 0).clone_with_column_of(LEGACY, "build"),
        "job `build`",
    );
    assert!(build.reason.contains("`development`"), "{build}");
}

#[test]
fn a_group_can_be_mapped_to_an_environment() {
    let options = Options {
        environments: vec![("ops".into(), "production".into())],
    };
    let out = import_with("platform.yml", PLATFORM, &options);
    assert!(
        out.pipeline
            .contains("  - name: bump-major\n    environment: production\n")
    );
    let err = import_concourse(
        Path::new("platform.yml"),
        PLATFORM,
        &Options {
            environments: vec![("opz".into(), "production".into())],
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`--environment opz=production`: the pipeline has no group `opz` (did you mean `ops`?)"
    );
    // A group of a name of its own becomes an environment of that name.
    let text = "jobs:\n  - {name: a, plan: [{get: r}]}\n  - {name: b, plan: [{get: r, passed: [a]}]}\nresources: [{name: r, type: time, source: {interval: 1h}}]\ngroups:\n  - {name: qa, jobs: [a]}\n  - {name: live, jobs: [b]}\n";
    let out = import_with(
        "p.yml",
        text,
        &Options {
            environments: vec![("qa".into(), "qa".into())],
        },
    );
    assert!(
        out.pipeline.contains("environments: [qa, production]\n"),
        "{}",
        out.pipeline
    );
}

fn malformed(text: &str) -> Vec<String> {
    match import_concourse(Path::new("bad.yml"), text, &Options::default()) {
        Err(ImportError::Malformed(items)) => items.iter().map(ToString::to_string).collect(),
        other => panic!("{text:?} was accepted: {other:?}"),
    }
}

#[test]
fn a_malformed_file_is_an_error_at_its_position() {
    assert_eq!(
        malformed("- just\n- a list\n"),
        ["bad.yml:1:1: the pipeline: must be a mapping, found a list"]
    );
    assert_eq!(
        malformed("resources: []\n"),
        ["bad.yml:1:1: the pipeline: has no `jobs`"]
    );
    assert_eq!(
        malformed("jobs:\n  - name: a\n    plan:\n      - gett: r\n"),
        [
            "bad.yml:4:9: a step of job `a`: has no step kind: expected one of `get`, `put`, `task`, `in_parallel`, `do`, `try`, `set_pipeline`, `load_var`; found `gett`"
        ]
    );
    assert_eq!(
        malformed("jobs:\n  - name: a\n    plan:\n      - {get: r, put: r}\n"),
        ["bad.yml:4:18: a step of job `a`: has several step kinds: `get`, `put`"]
    );
    assert_eq!(
        malformed("jobs:\n  - name: a\n"),
        ["bad.yml:2:11: job `a`: has no `plan`"]
    );
    assert_eq!(
        malformed("jobs:\n  - plan: []\n"),
        ["bad.yml:2:5: a job: has no `name`"]
    );
    assert_eq!(
        malformed("jobs: {a: 1}\n"),
        ["bad.yml:1:7: `jobs`: must be a list, found a mapping"]
    );
    let syntax = malformed("jobs:\n  - name: a\n   plan: []\n");
    assert!(syntax[0].starts_with("bad.yml:3:"), "{syntax:?}");
    assert!(syntax[0].contains(": YAML: "), "{syntax:?}");
}

#[test]
fn every_truncation_and_mangling_of_a_real_pipeline_imports_or_is_refused_cleanly() {
    // Cut anywhere, or with a line's indentation broken: an import or errors, never a panic.
    let mut cuts = 0;
    for (at, _) in PLATFORM.char_indices().step_by(131) {
        let _ = import_concourse(Path::new("p.yml"), &PLATFORM[..at], &Options::default());
        cuts += 1;
    }
    assert!(cuts > 100, "{cuts}");
    for (n, _) in PLATFORM.lines().enumerate().step_by(11) {
        let mangled: String = PLATFORM
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == n {
                    format!(" {l}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        if let Err(ImportError::Malformed(items)) =
            import_concourse(Path::new("p.yml"), &mangled, &Options::default())
        {
            assert!(items.iter().all(|i| i.line > 0), "{items:?}");
        }
    }
}

#[test]
fn hostile_input_is_refused_without_a_panic() {
    // An alias bomb, deep nesting, a huge flat file, binary-looking text, odd scalars.
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\njobs: *g\n";
    let refused = malformed(bomb);
    assert!(
        refused[0].starts_with("bad.yml:7:8: YAML: the pipeline"),
        "{refused:?}"
    );
    let deep = format!("jobs: {}1{}\n", "[".repeat(200), "]".repeat(200));
    assert!(import_concourse(Path::new("h.yml"), &deep, &Options::default()).is_err());
    for text in [
        "",
        "~",
        "jobs: ~",
        "jobs: [~, 1, [], {name: 3, plan: {}}]",
        "jobs: [{name: a, plan: [{in_parallel: 3}, {do: {}}, {try: []}, {task: 1, config: 2}]}]",
        "jobs: [{name: a, plan: [{get: r, params: [1]}, {put: r, params: 7, inputs: 3}]}]\nresources: [{name: r, type: git, source: 5}]",
        "groups: 1\njobs: []",
        "groups: [{name: x, jobs: [\"*****************\"]}]\njobs: [{name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab, plan: []}]",
        "jobs: []\nresources: [{name: r, type: s3, source: {bucket: \"\\u0000\\t\"}}]",
        "\u{feff}jobs: []",
    ] {
        let _ = import_concourse(Path::new("h.yml"), text, &Options::default());
    }
}
