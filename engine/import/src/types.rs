//! Concourse resource types and the Lockgate first-party plugins they map to: which `source`
//! keys and `params` carry over (some renamed), and what each plugin needs granted.

/// A Concourse resource type with a Lockgate equivalent.
pub(crate) struct Mapped {
    /// The Concourse type (`git`, `registry-image`, …).
    pub concourse: &'static str,
    /// The plugin's crate under `plugins/`, and the file stem of its component.
    pub plugin: &'static str,
    pub component: &'static str,
    /// `source` keys kept: `(Concourse key, Lockgate key)`.
    pub source: &'static [(&'static str, &'static str)],
    /// `get` params kept.
    pub get_params: &'static [&'static str],
    /// `put` params kept; `None`: the plugin has no `put`.
    pub put_params: Option<&'static [&'static str]>,
    /// Why Concourse's `put` does not carry over as it is, when it does not.
    pub put_note: Option<&'static str>,
}

pub(crate) const MAPPED: &[Mapped] = &[
    Mapped {
        concourse: "git",
        plugin: "git",
        component: "git",
        source: &[
            ("uri", "uri"),
            ("branch", "branch"),
            ("paths", "paths"),
            ("ignore_paths", "ignore_paths"),
            ("tag_filter", "tag_filter"),
            ("username", "username"),
            ("password", "password"),
        ],
        get_params: &[],
        put_params: Some(&[
            "file",
            "key",
            "value",
            "value_file",
            "set",
            "message",
            "author",
        ]),
        put_note: Some(
            "Concourse's git put pushes the commits of a repository; Lockgate's git put sets one value in a YAML file and pushes it: give `file`, `key` and `value` or `value_file` (plugins/git/README.md)",
        ),
    },
    Mapped {
        concourse: "registry-image",
        plugin: "registry-image",
        component: "registry_image",
        source: &[
            ("repository", "repository"),
            ("tag", "tag"),
            ("username", "username"),
            ("password", "password"),
            ("semver_constraint", "semver_constraint"),
            ("pre_releases", "pre_releases"),
            ("tag_regex", "tag_regex"),
            ("insecure", "insecure"),
        ],
        get_params: &["skip_download"],
        put_params: Some(&[
            "from",
            "source_repository",
            "digest",
            "digest_file",
            "tag",
            "tags",
            "tag_file",
        ]),
        put_note: None,
    },
    Mapped {
        concourse: "docker-image",
        plugin: "registry-image",
        component: "registry_image",
        source: &[
            ("repository", "repository"),
            ("tag", "tag"),
            ("username", "username"),
            ("password", "password"),
        ],
        get_params: &["skip_download"],
        put_params: Some(&[
            "from",
            "source_repository",
            "digest",
            "digest_file",
            "tag",
            "tags",
            "tag_file",
        ]),
        put_note: None,
    },
    Mapped {
        concourse: "s3",
        plugin: "s3",
        component: "s3",
        source: &[
            ("bucket", "bucket"),
            ("regexp", "regexp"),
            ("versioned_file", "versioned_file"),
            ("endpoint", "endpoint"),
            ("region_name", "region"),
            ("access_key_id", "access_key_id"),
            ("secret_access_key", "secret_access_key"),
            ("session_token", "session_token"),
        ],
        get_params: &["skip_download"],
        put_params: Some(&["file", "content_type"]),
        put_note: None,
    },
    Mapped {
        concourse: "github-release",
        plugin: "github-release",
        component: "github_release",
        source: &[
            ("owner", "owner"),
            ("repository", "repository"),
            ("access_token", "access_token"),
            ("pre_release", "pre_release"),
            ("release", "release"),
            ("tag_filter", "tag_filter"),
            ("github_api_url", "api_url"),
        ],
        get_params: &["globs"],
        put_params: None,
        put_note: None,
    },
    Mapped {
        concourse: "bosh-io-release",
        plugin: "bosh-io-release",
        component: "bosh_io_release",
        source: &[("repository", "repository"), ("regexp", "regexp")],
        get_params: &["tarball"],
        put_params: None,
        put_note: None,
    },
    Mapped {
        concourse: "bosh-io-stemcell",
        plugin: "bosh-io-stemcell",
        component: "bosh_io_stemcell",
        source: &[("name", "name"), ("force_regular", "light")],
        get_params: &["tarball"],
        put_params: None,
        put_note: None,
    },
    Mapped {
        concourse: "time",
        plugin: "time",
        component: "time",
        source: &[
            ("interval", "interval"),
            ("start", "start"),
            ("stop", "stop"),
            ("days", "days"),
            ("location", "location"),
        ],
        get_params: &[],
        put_params: Some(&[]),
        put_note: None,
    },
];

/// The mapping of Concourse type `name`.
pub(crate) fn mapped(name: &str) -> Option<&'static Mapped> {
    MAPPED.iter().find(|m| m.concourse == name)
}

/// The mapped type a custom Concourse resource type is a copy of, judged by its image
/// (`concourse/git-resource`, `concourse/registry-image-resource`, …).
pub(crate) fn mapped_image(repository: &str) -> Option<&'static Mapped> {
    let last = repository.rsplit('/').next()?;
    let name = last.split(':').next()?.strip_suffix("-resource")?;
    repository
        .contains("concourse/")
        .then(|| mapped(name))
        .flatten()
}

/// Concourse's own resource types (no `resource_types` entry needed) without a Lockgate plugin.
pub(crate) const CORE_UNMAPPED: &[&str] = &[
    "semver",
    "pool",
    "cf",
    "bosh-deployment",
    "concourse-pipeline",
    "hg",
    "tracker",
    "mock",
];

/// The `host:port` pairs a mapped resource reaches, from its translated source (none when a
/// value needed is a `((var))`).
pub(crate) fn network(m: &Mapped, source: &serde_json::Value) -> Vec<String> {
    let s = |k: &str| source.get(k).and_then(|v| v.as_str());
    let url_host = |url: &str| -> Option<String> {
        if url.contains("((") {
            return None;
        }
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split('/').next()?;
        let authority = authority.rsplit('@').next()?;
        if authority.is_empty() {
            return None;
        }
        Some(if authority.contains(':') {
            authority.to_owned()
        } else if scheme == "http" {
            format!("{authority}:80")
        } else {
            format!("{authority}:443")
        })
    };
    let mut out: Vec<String> = match m.plugin {
        "git" => s("uri").and_then(url_host).into_iter().collect(),
        "registry-image" => match s("repository") {
            Some(r) if !r.contains("((") => {
                let r = r
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                let first = r.split('/').next().unwrap_or("");
                let explicit = r.contains('/')
                    && (first.contains('.') || first.contains(':') || first == "localhost");
                if explicit && first != "docker.io" {
                    vec![if first.contains(':') {
                        first.to_owned()
                    } else {
                        format!("{first}:443")
                    }]
                } else {
                    vec![
                        "registry-1.docker.io:443".to_owned(),
                        "auth.docker.io:443".to_owned(),
                        "production.cloudflare.docker.com:443".to_owned(),
                    ]
                }
            }
            _ => Vec::new(),
        },
        "s3" => match s("endpoint") {
            Some(e) => url_host(e).into_iter().collect(),
            None => match s("region") {
                Some(r) if r.contains("((") => Vec::new(),
                Some(r) => vec![format!("s3.{r}.amazonaws.com:443")],
                None => vec!["s3.us-east-1.amazonaws.com:443".to_owned()],
            },
        },
        "github-release" => {
            let api = match s("api_url") {
                Some(u) => url_host(u).into_iter().collect(),
                None => vec!["api.github.com:443".to_owned()],
            };
            api.into_iter()
                .chain([
                    "release-assets.githubusercontent.com:443".to_owned(),
                    "objects.githubusercontent.com:443".to_owned(),
                ])
                .collect()
        }
        "bosh-io-release" => vec![
            "bosh.io:443".to_owned(),
            "github.com:443".to_owned(),
            "release-assets.githubusercontent.com:443".to_owned(),
        ],
        "bosh-io-stemcell" => vec![
            "bosh.io:443".to_owned(),
            "storage.googleapis.com:443".to_owned(),
        ],
        _ => Vec::new(),
    };
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn network_grants_follow_the_source() {
        let git = mapped("git").unwrap();
        assert_eq!(
            network(git, &json!({"uri": "https://github.com/acme/app.git"})),
            ["github.com:443"]
        );
        assert!(network(git, &json!({"uri": "((repo_uri))"})).is_empty());
        let image = mapped("registry-image").unwrap();
        assert_eq!(
            network(
                image,
                &json!({"repository": "registry.acme.internal:5000/team/app"})
            ),
            ["registry.acme.internal:5000"]
        );
        assert_eq!(network(image, &json!({"repository": "alpine"})).len(), 3);
        let s3 = mapped("s3").unwrap();
        assert_eq!(
            network(s3, &json!({"region": "eu-west-1"})),
            ["s3.eu-west-1.amazonaws.com:443"]
        );
    }

    #[test]
    fn custom_types_of_concourse_images_are_recognised() {
        assert_eq!(
            mapped_image("concourse/git-resource").map(|m| m.plugin),
            Some("git")
        );
        assert_eq!(
            mapped_image("docker.io/concourse/registry-image-resource:1.9").map(|m| m.plugin),
            Some("registry-image")
        );
        assert!(mapped_image("acme/slack-notification-resource").is_none());
    }
}
