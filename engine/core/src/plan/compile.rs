//! Compiling a valid pipeline model into a [`Plan`]: defaults applied, step ids assigned,
//! plugins attached, the promotion graph computed. Runs once per load, never at run time.

use std::collections::{BTreeMap, BTreeSet};

use lockgate_config::{
    Action, Environment, Hooks, Inputs, Job, Pipeline, Redactor, Resource, Spanned, Step,
};
use lockgate_model::Limits;

use super::model::*;
use super::plugins::LoadedPlugins;
use super::task::{TaskDefinition, component_plan};

/// Compiles `pipeline` (validated) with its `plugins`. Plugins that are not loaded (a plan
/// compiled for tests) leave `plugin: None`.
pub fn compile(pipeline: &Pipeline, plugins: &LoadedPlugins, redactor: Redactor) -> Plan {
    let mut jobs: Vec<JobPlan> = pipeline
        .jobs
        .iter()
        .map(|j| job(pipeline, plugins, j))
        .collect();
    let polled: BTreeSet<&str> = jobs
        .iter()
        .flat_map(|j| &j.inputs)
        .filter(|i| i.passed.is_empty())
        .map(|i| i.resource.as_str())
        .collect();
    let resources: Vec<ResourcePlan> = pipeline
        .resources
        .iter()
        .map(|r| resource(pipeline, plugins, r, polled.contains(r.name.value.as_str())))
        .collect();
    let mut environments: Vec<EnvironmentPlan> = pipeline
        .environments
        .iter()
        .enumerate()
        .map(|(index, e)| environment(pipeline, index, e))
        .collect();
    let shared: BTreeSet<String> = resources
        .iter()
        .filter(|r| r.shared)
        .map(|r| r.name.clone())
        .collect();
    let promotion = super::promotion::promotion(&mut environments, &mut jobs, &shared);
    let index = |names: Vec<&String>| -> BTreeMap<String, usize> {
        names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect()
    };
    Plan {
        file: pipeline.file.clone(),
        environment_index: index(environments.iter().map(|e| &e.name).collect()),
        resource_index: index(resources.iter().map(|r| &r.name).collect()),
        job_index: index(jobs.iter().map(|j| &j.name).collect()),
        environments,
        resources,
        jobs,
        promotion,
        redactor,
        tasks: plugins.task_loader().cloned(),
    }
}

fn environment(pipeline: &Pipeline, index: usize, e: &Environment) -> EnvironmentPlan {
    EnvironmentPlan {
        name: e.name.value.clone(),
        index,
        approval: e.approval(),
        soak: e.soak.as_ref().map(|s| s.value),
        gate_jobs: pipeline
            .gate_jobs(e)
            .into_iter()
            .map(|j| j.name.value.clone())
            .collect(),
        resources: Vec::new(),
    }
}

fn resource(
    pipeline: &Pipeline,
    plugins: &LoadedPlugins,
    r: &Resource,
    polled: bool,
) -> ResourcePlan {
    let type_name = r.type_name.value.clone();
    let mut limits = r.limits.apply(
        pipeline
            .resource_type(&type_name)
            .map_or_else(Limits::default, |t| t.limits()),
    );
    if let Some(t) = &r.check_timeout {
        limits.check = t.value;
    }
    ResourcePlan {
        name: r.name.value.clone(),
        source: r.source.value.clone(),
        identity: identity(r),
        check_every: r.check_every(),
        polled,
        webhook_token: r.webhook_token.as_ref().map(|t| t.value.clone()),
        pinned: r.version.as_ref().map(|v| v.value.clone()),
        shared: r.shared,
        grants: r.grants.to_grants(),
        limits,
        plugin: plugins.resource_type(&type_name).cloned(),
        type_name,
    }
}

/// What makes two resources the same: their `source` and what they are granted. Two env-dir
/// resources with the same `source` but different granted directories are different targets,
/// with different version histories; identical ones share a history and are checked once.
fn identity(r: &Resource) -> serde_json::Value {
    let g = r.grants.to_grants();
    let dirs: Vec<serde_json::Value> = g
        .dirs
        .iter()
        .map(|d| serde_json::json!([d.name, d.path, d.writable]))
        .collect();
    let network: Vec<String> = g.network.iter().map(ToString::to_string).collect();
    serde_json::json!({
        "source": r.source.value,
        "grants": { "dirs": dirs, "network": network, "env": g.env },
    })
}

fn job(pipeline: &Pipeline, plugins: &LoadedPlugins, j: &Job) -> JobPlan {
    let mut seen = BTreeSet::new();
    let inputs = j
        .gets()
        .filter(|(_, g)| seen.insert(g.name.value.clone()))
        .map(|(_, g)| InputPlan {
            name: g.name.value.clone(),
            resource: g.resource.value.clone(),
            passed: g.passed.iter().map(|p| p.value.clone()).collect(),
            trigger: g.trigger(),
            version: g.version(),
        })
        .collect();
    let serial_groups: Vec<String> = j.serial_groups.iter().map(|g| g.value.clone()).collect();
    let mut exclusive_with: Vec<String> = Vec::new();
    for other in pipeline
        .jobs
        .iter()
        .filter(|o| o.name.value != j.name.value)
    {
        if other
            .serial_groups
            .iter()
            .any(|g| serial_groups.contains(&g.value))
            && !exclusive_with.contains(&other.name.value)
        {
            exclusive_with.push(other.name.value.clone());
        }
    }
    let steps = Compiler { pipeline, plugins };
    JobPlan {
        name: j.name.value.clone(),
        environment: j.environment.value.clone(),
        inputs,
        steps: steps.steps(&j.plan, "plan"),
        hooks: steps.hooks(&j.hooks, "job"),
        max_in_flight: j.max_in_flight(),
        exclusive_with,
        timeout: j.timeout.as_ref().map(|t| t.value),
        attempts: j.attempts.as_ref().map_or(1, |a| a.value.max(1)),
        deploys: j.puts().next().is_some(),
        outputs: j.puts().fold(Vec::new(), |mut out, (_, p)| {
            if !out.contains(&p.resource.value) {
                out.push(p.resource.value.clone());
            }
            out
        }),
        entry: Vec::new(),
        promotion: lockgate_store::PromotionRules::default(),
    }
}

/// Compiles steps, naming each by its path from the job.
struct Compiler<'a> {
    pipeline: &'a Pipeline,
    plugins: &'a LoadedPlugins,
}

impl Compiler<'_> {
    fn steps(&self, steps: &[Step], path: &str) -> Vec<StepPlan> {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| self.step(s, format!("{path}.{i}")))
            .collect()
    }

    fn hooks(&self, hooks: &Hooks, path: &str) -> HooksPlan {
        let hook = |step: &Option<Box<Step>>, name: &str| {
            step.as_deref()
                .map(|s| Box::new(self.step(s, format!("{path}.{name}"))))
        };
        HooksPlan {
            on_success: hook(&hooks.on_success, "on_success"),
            on_failure: hook(&hooks.on_failure, "on_failure"),
            on_error: hook(&hooks.on_error, "on_error"),
            ensure: hook(&hooks.ensure, "ensure"),
        }
    }

    fn step(&self, step: &Step, id: String) -> StepPlan {
        let payload = |p: Option<&lockgate_config::Payload>| {
            p.map_or_else(|| serde_json::json!({}), |p| p.value.clone())
        };
        let inputs = |i: Option<&lockgate_config::Spanned<Inputs>>| match i.map(|i| &i.value) {
            None | Some(Inputs::All) => InputsPlan::All,
            Some(Inputs::Named(names)) => {
                InputsPlan::Named(names.iter().map(|n| n.value.clone()).collect())
            }
        };
        let action = match &step.action {
            Action::Get(g) => ActionPlan::Get(GetPlan {
                name: g.name.value.clone(),
                resource: g.resource.value.clone(),
                params: payload(g.params.as_ref()),
            }),
            Action::Put(p) => ActionPlan::Put(PutPlan {
                name: p.name.value.clone(),
                resource: p.resource.value.clone(),
                params: payload(p.params.as_ref()),
                inputs: inputs(p.inputs.as_ref()),
            }),
            Action::Test(t) => ActionPlan::Test(Box::new(TestPlan {
                name: t.name.value.clone(),
                type_name: t.type_name.value.clone(),
                config: payload(t.config.as_ref()),
                inputs: inputs(t.inputs.as_ref()),
                grants: t.grants.to_grants(),
                limits: self
                    .pipeline
                    .test_type(&t.type_name.value)
                    .map_or_else(Limits::default, |ty| ty.limits()),
                plugin: self.plugins.test_type(&t.type_name.value).cloned(),
            })),
            Action::Task(t) => {
                let mut limits = Limits::default();
                if let Some(m) = &t.memory {
                    limits = limits.with_memory(m.value);
                }
                if let Some(d) = &t.timeout {
                    limits.run = d.value;
                }
                if let Some(n) = &t.log_size {
                    limits.output_bytes = usize::try_from(n.value).unwrap_or(usize::MAX);
                }
                if let Some(n) = &t.disk_size {
                    limits.disk_bytes = n.value;
                }
                let pairs = |m: &[(Spanned<String>, Spanned<String>)]| {
                    m.iter()
                        .map(|(k, v)| (k.value.clone(), v.value.clone()))
                        .collect::<Vec<_>>()
                };
                let mut plan = TaskPlan {
                    name: t.name.value.clone(),
                    definition: TaskDefinition::File {
                        artifact: String::new(),
                        path: String::new(),
                    },
                    params: pairs(&t.params),
                    input_mapping: pairs(&t.input_mapping),
                    output_mapping: pairs(&t.output_mapping),
                    grants: t.grants.to_grants(),
                    limits,
                };
                plan.definition = match &t.file {
                    Some(f) => TaskDefinition::File {
                        artifact: f.artifact.value.clone(),
                        path: f.path.clone(),
                    },
                    None => {
                        let component = component_plan(&t.config.component.value, |c| {
                            self.plugins.task(c).cloned()
                        });
                        TaskDefinition::Inline(plan.program(&t.config, component))
                    }
                };
                ActionPlan::Task(Box::new(plan))
            }
            Action::InParallel(p) => ActionPlan::InParallel {
                steps: self.steps(&p.steps, &format!("{id}.in_parallel")),
                limit: p
                    .limit
                    .as_ref()
                    .map_or(usize::MAX, |l| l.value.max(1) as usize),
                fail_fast: p.fail_fast.as_ref().is_some_and(|f| f.value),
            },
            Action::Do(steps) => ActionPlan::Do(self.steps(steps, &format!("{id}.do"))),
            Action::Try(inner) => ActionPlan::Try(Box::new(self.step(inner, format!("{id}.try")))),
        };
        StepPlan {
            hooks: self.hooks(&step.hooks, &id),
            id: StepId::new(id),
            action,
            attempts: step.attempts.as_ref().map_or(1, |a| a.value.max(1)),
            timeout: step.timeout.as_ref().map(|t| t.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use lockgate_config::{Vars, parse_str};

    use super::*;
    use crate::plan::{ComponentPlan, TaskMount};

    fn plan(text: &str) -> Plan {
        let parsed = parse_str(Path::new("p.yml"), text, &Vars::new());
        assert!(!parsed.report.has_errors(), "{}", parsed.report);
        compile(&parsed.pipeline, &LoadedPlugins::default(), parsed.redactor)
    }

    const PIPELINE: &str = "\
environments: [dev, {name: prod, soak: 1h, gate: [smoke-prod]}]
resource_types: {counter: ./counter.wasm}
test_types: {probe: ./probe.wasm}
resources:
  - {name: release, type: counter, check_every: never}
  - {name: image, type: counter}
jobs:
  - name: deploy-dev
    environment: dev
    serial_groups: [deploys]
    plan:
      - in_parallel:
          steps: [{get: release, trigger: true}, {get: image}]
          limit: 2
      - put: release
        attempts: 3
    ensure: {test: probe}
  - name: deploy-prod
    environment: prod
    serial_groups: [deploys]
    attempts: 2
    plan:
      - get: release
        passed: [deploy-dev]
      - do: [{try: {test: probe}}]
  - name: smoke-prod
    environment: prod
    plan: [{get: release, passed: [deploy-prod], trigger: true, version: every}]
";

    #[test]
    fn defaults_are_applied_and_steps_named_by_their_path() {
        let p = plan(PIPELINE);
        let dev = p.job("deploy-dev").unwrap();
        assert_eq!((dev.attempts, dev.max_in_flight), (1, Some(1)));
        assert_eq!(dev.exclusive_with, ["deploy-prod"]);
        assert!(dev.deploys);
        assert_eq!(dev.outputs, ["release"]);
        let names: Vec<(&str, bool)> = dev
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.trigger))
            .collect();
        assert_eq!(names, [("release", true), ("image", false)]);
        let mut steps = Vec::new();
        dev.steps.iter().for_each(|s| s.walk(&mut steps));
        let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "plan.0",
                "plan.0.in_parallel.0",
                "plan.0.in_parallel.1",
                "plan.1"
            ]
        );
        assert_eq!(steps[3].attempts, 3);
        assert!(matches!(
            steps[0].action,
            ActionPlan::InParallel {
                limit: 2,
                fail_fast: false,
                ..
            }
        ));
        assert_eq!(dev.hooks.ensure.as_ref().unwrap().id.as_str(), "job.ensure");

        let prod = p.job("deploy-prod").unwrap();
        assert_eq!(prod.attempts, 2);
        assert!(!prod.inputs[0].trigger);
        let mut steps = Vec::new();
        prod.steps.iter().for_each(|s| s.walk(&mut steps));
        let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["plan.0", "plan.1", "plan.1.do.0", "plan.1.do.0.try"]);
        assert_eq!(
            p.job("smoke-prod").unwrap().inputs[0].version,
            lockgate_model::VersionPolicy::Every
        );
    }

    #[test]
    fn a_task_step_compiles_with_its_mappings_params_and_limits() {
        let p = plan(
            "\
environments: [dev]
resource_types: {counter: ./counter.wasm}
resources: [{name: cfg, type: counter}]
jobs:
  - name: j
    environment: dev
    plan:
      - get: cfg
      - task: render
        config:
          component: ../tasks/render.wasm
          args: [--env, staging]
          params: {REGION: eu-1, LEVEL: '2'}
          inputs: [{name: config}]
          outputs: [{name: rendered}]
          caches: [{path: deps}]
        params: {REGION: us-1}
        input_mapping: {config: cfg}
        output_mapping: {rendered: manifests}
        limits: {memory: 64MiB, timeout: 90s, log_size: 2MiB, disk_size: 1GiB}
      - put: cfg
        inputs: [manifests]
",
        );
        let job = p.job("j").unwrap();
        let step = &job.steps[1];
        assert_eq!(step.id.as_str(), "plan.1");
        assert_eq!(step.label(), "task `render`");
        let ActionPlan::Task(task) = &step.action else {
            panic!("{step:?}")
        };
        let TaskDefinition::Inline(t) = &task.definition else {
            panic!("{task:?}")
        };
        let ComponentPlan::Loaded { source, task: None } = &t.component else {
            panic!("compiled without the host: {:?}", t.component)
        };
        assert_eq!(source, "../tasks/render.wasm");
        assert_eq!(t.args, ["--env", "staging"]);
        assert_eq!(
            t.params,
            [
                ("REGION".to_owned(), "us-1".to_owned()),
                ("LEVEL".to_owned(), "2".to_owned())
            ]
        );
        assert_eq!(
            t.inputs,
            [TaskMount {
                dir: "config".into(),
                artifact: "cfg".into(),
                optional: false
            }]
        );
        assert_eq!(
            t.outputs,
            [TaskMount {
                dir: "rendered".into(),
                artifact: "manifests".into(),
                optional: false
            }]
        );
        assert_eq!(t.caches, ["deps"]);
        assert_eq!(task.limits.memory_bytes, 64 << 20);
        assert_eq!(task.limits.run, std::time::Duration::from_secs(90));
        assert_eq!(task.limits.output_bytes, 2 << 20);
        assert_eq!(task.limits.disk_bytes, 1 << 30);
        // A task is not an input of the job: the scheduler resolves only its gets.
        let inputs: Vec<&str> = job.inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(inputs, ["cfg"]);
    }

    #[test]
    fn environments_resources_and_the_promotion_graph_are_computed_once() {
        let p = plan(PIPELINE);
        let prod = p.environment("prod").unwrap();
        assert_eq!(prod.index, 1);
        assert_eq!(prod.soak, Some(std::time::Duration::from_secs(3600)));
        assert_eq!(prod.gate_jobs, ["smoke-prod"]);
        assert_eq!(p.upstream_of(prod).unwrap().name, "dev");
        assert_eq!(p.environment("dev").unwrap().gate_jobs, ["deploy-dev"]);

        let release = p.resource("release").unwrap();
        assert_eq!(release.check_every, lockgate_config::CheckEvery::Never);
        assert!(release.polled);
        assert!(release.plugin.is_none());
        assert_eq!(release.limits.check, Limits::default().check);

        assert!(p.promotion.is_promoted("release"));
        assert!(!p.promotion.is_promoted("image"));
        assert_eq!(
            p.promotion.through["release"],
            [
                ("dev".to_owned(), vec!["deploy-dev".to_owned()]),
                (
                    "prod".to_owned(),
                    vec!["deploy-prod".to_owned(), "smoke-prod".to_owned()]
                ),
            ]
        );
    }
}
