//! The parts of the GitHub REST API this type uses: releases (listed page by page), one
//! release by id or tag, a tag's commit, and asset downloads; rate-limit answers honoured.

use std::io::Write;
use std::time::Duration;

use lockgate_sdk::Error;
use lockgate_sdk::http::{Response, Url};
use release_feed::transport::{Get, Transport};
use release_feed::{encode_path, preview, status_error};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Releases asked per page (GitHub's maximum).
pub const PER_PAGE: u32 = 100;
/// Pages followed at most: 10,000 releases.
pub const MAX_PAGES: u32 = 100;
/// The longest `retry-after` waited for; a longer one is an error.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);
/// The most waited for `retry-after` in one invocation.
pub const MAX_TOTAL_WAIT: Duration = Duration::from_secs(30);
/// GitHub's REST API version asked for.
pub const API_VERSION: &str = "2022-11-28";

/// A release as listed (`GET /repos/{owner}/{repo}/releases`); the fields `check` needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Listed {
    /// The release's id.
    pub id: u64,
    /// Its tag (empty for a draft without one).
    #[serde(default)]
    pub tag_name: String,
    /// A draft (only visible with push access).
    #[serde(default)]
    pub draft: bool,
    /// Marked as a prerelease.
    #[serde(default)]
    pub prerelease: bool,
}

/// A release (`GET /repos/{owner}/{repo}/releases/{id}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    /// The release's id.
    pub id: u64,
    /// Its tag.
    #[serde(default)]
    pub tag_name: String,
    /// Its title.
    #[serde(default)]
    pub name: Option<String>,
    /// Release notes (Markdown).
    #[serde(default)]
    pub body: Option<String>,
    /// A draft.
    #[serde(default)]
    pub draft: bool,
    /// A prerelease.
    #[serde(default)]
    pub prerelease: bool,
    /// Its page on GitHub.
    #[serde(default)]
    pub html_url: Option<String>,
    /// When it was published.
    #[serde(default)]
    pub published_at: Option<String>,
    /// The branch or commit the tag is created from if it does not exist yet.
    #[serde(default)]
    pub target_commitish: Option<String>,
    /// Its assets.
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// A release asset.
#[derive(Debug, Clone, Deserialize)]
pub struct Asset {
    /// The asset's id (its download is `GET /repos/{owner}/{repo}/releases/assets/{id}`).
    pub id: u64,
    /// Its file name.
    pub name: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
    /// `uploaded` once complete.
    #[serde(default)]
    pub state: Option<String>,
    /// `sha256:<hex>`, when GitHub computed it.
    #[serde(default)]
    pub digest: Option<String>,
}

/// A git reference or annotated tag object: what it points at.
#[derive(Debug, Clone, Deserialize)]
struct Pointer {
    object: Target,
}

#[derive(Debug, Clone, Deserialize)]
struct Target {
    sha: String,
    #[serde(rename = "type")]
    kind: String,
}

/// A GitHub API client over a [`Transport`]: headers, token, rate limits.
pub struct GitHub<T> {
    transport: T,
    api: String,
    api_url: Url,
    owner: String,
    repository: String,
    token: Option<String>,
    sleep: fn(Duration),
    waited: Duration,
}

impl<T: Transport> GitHub<T> {
    /// A client of `api` (validated base URL) for `owner/repository`.
    pub fn new(
        transport: T,
        api: &str,
        owner: &str,
        repository: &str,
        token: Option<String>,
    ) -> Result<Self, Error> {
        Ok(Self {
            transport,
            api: api.to_string(),
            api_url: Url::parse(api)?,
            owner: owner.to_string(),
            repository: repository.to_string(),
            token,
            sleep: std::thread::sleep,
            waited: Duration::ZERO,
        })
    }

    /// Waits with `sleep` instead of the thread's (unit tests).
    #[cfg(test)]
    pub fn with_sleep(mut self, sleep: fn(Duration)) -> Self {
        self.sleep = sleep;
        self
    }

    /// `owner/repository`.
    pub fn slug(&self) -> String {
        format!("{}/{}", self.owner, self.repository)
    }

    /// `<api>/repos/<owner>/<repository><path>`.
    fn repo_url(&self, path: &str) -> String {
        format!(
            "{}/repos/{}/{}{path}",
            self.api,
            encode_path(&self.owner, false),
            encode_path(&self.repository, false)
        )
    }

    /// The URL of an asset's download (`Accept: application/octet-stream`).
    pub fn asset_url(&self, id: u64) -> String {
        self.repo_url(&format!("/releases/assets/{id}"))
    }

    /// Headers every request to the API carries; with the token when `url` is on the API's
    /// origin.
    pub fn headers(&self, url: &str, accept: &str) -> Vec<(String, String)> {
        let mut headers = vec![
            ("Accept".to_string(), accept.to_string()),
            ("X-GitHub-Api-Version".to_string(), API_VERSION.to_string()),
            (
                "User-Agent".to_string(),
                format!("lockgate-github-release/{}", env!("CARGO_PKG_VERSION")),
            ),
        ];
        if let Some(token) = &self.token
            && Url::parse(url).is_ok_and(|u| u.origin() == self.api_url.origin())
        {
            headers.push(("Authorization".to_string(), format!("Bearer {token}")));
        }
        headers
    }

    fn api_get(&self, url: &str) -> Get {
        let mut get = Get::new(url);
        get.headers = self.headers(url, "application/vnd.github+json");
        get
    }

    /// Every release of the repository, page after page.
    pub fn releases(&mut self) -> Result<(Vec<Listed>, u32), Error> {
        let mut url = self.repo_url(&format!("/releases?per_page={PER_PAGE}"));
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let get = self.api_get(&url);
            let response = self.get(&get)?;
            if response.status != 200 {
                return Err(self.refusal(&get, &response));
            }
            let listed: Vec<Listed> = decode(&get, &response)?;
            all.extend(listed);
            match response.header("link").and_then(next_link) {
                None => return Ok((all, page)),
                Some(next) => url = self.next_page(&response.url, &next)?,
            }
        }
        lockgate_sdk::warn!(
            "{}: stopped after {MAX_PAGES} pages of releases ({} releases); older releases are not considered",
            self.slug(),
            all.len()
        );
        Ok((all, MAX_PAGES))
    }

    /// The URL of the next page, checked: the token goes only to the API's origin.
    fn next_page(&self, current: &Url, link: &str) -> Result<String, Error> {
        let next = current
            .join(link)
            .map_err(|e| Error::failed(format!("the API's next-page link is not a URL: {e}")))?;
        if self.token.is_some() && next.origin() != self.api_url.origin() {
            return Err(Error::failed(format!(
                "the API's next-page link leads to {next}, another origin than {}: refusing to send the access token there",
                self.api_url.origin()
            )));
        }
        Ok(next.to_string())
    }

    /// The release with id `id`, if it exists.
    pub fn release_by_id(&mut self, id: u64) -> Result<Option<Release>, Error> {
        self.release_at(&self.repo_url(&format!("/releases/{id}")))
    }

    /// The published release of tag `tag`, if it exists.
    pub fn release_by_tag(&mut self, tag: &str) -> Result<Option<Release>, Error> {
        self.release_at(&self.repo_url(&format!("/releases/tags/{}", encode_path(tag, true))))
    }

    fn release_at(&mut self, url: &str) -> Result<Option<Release>, Error> {
        let get = self.api_get(url);
        let response = self.get(&get)?;
        match response.status {
            200 => decode(&get, &response).map(Some),
            404 => Ok(None),
            _ => Err(self.refusal(&get, &response)),
        }
    }

    /// The commit tag `tag` points at (through annotated tags), if the tag exists.
    pub fn commit_sha(&mut self, tag: &str) -> Result<Option<String>, Error> {
        let url = self.repo_url(&format!("/git/ref/tags/{}", encode_path(tag, true)));
        let get = self.api_get(&url);
        let response = self.get(&get)?;
        match response.status {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.refusal(&get, &response)),
        }
        let mut pointer: Pointer = decode(&get, &response)?;
        // An annotated tag points at a tag object; follow it (and tags of tags) to the commit.
        for _ in 0..5 {
            match pointer.object.kind.as_str() {
                "commit" => return Ok(Some(pointer.object.sha)),
                "tag" => {
                    let url = self.repo_url(&format!("/git/tags/{}", pointer.object.sha));
                    let get = self.api_get(&url);
                    let response = self.get(&get)?;
                    if response.status != 200 {
                        return Err(self.refusal(&get, &response));
                    }
                    pointer = decode(&get, &response)?;
                }
                other => {
                    lockgate_sdk::warn!("tag {tag} points at a {other}, not a commit");
                    return Ok(None);
                }
            }
        }
        lockgate_sdk::warn!("tag {tag}: too many levels of annotated tags");
        Ok(None)
    }

    /// An error for a status other than expected, in the words of what it means on GitHub.
    fn refusal(&self, get: &Get, response: &Response) -> Error {
        let what = get.what();
        match response.status {
            401 => Error::failed(format!(
                "{what}: 401: GitHub refused source.access_token (expired or revoked?): {}",
                preview(&response.body)
            )),
            403 => Error::failed(format!(
                "{what}: 403: GitHub forbids it{}: {}",
                if self.token.is_some() {
                    " (does the token have read access to the repository's contents?)"
                } else {
                    ""
                },
                preview(&response.body)
            )),
            404 => Error::failed(format!(
                "{what}: 404: the repository {} does not exist{}: {}",
                self.slug(),
                if self.token.is_some() {
                    ", or the token cannot see it"
                } else {
                    " or is private (give source.access_token)"
                },
                preview(&response.body)
            )),
            _ => status_error(&what, response),
        }
    }

    /// The error for an exhausted rate limit, saying when it resets.
    fn exhausted(&self, get: &Get, response: &Response) -> Error {
        let limit = response
            .header("x-ratelimit-limit")
            .map(|l| format!(" of {} requests an hour", l.trim()))
            .unwrap_or_default();
        let resource = response
            .header("x-ratelimit-resource")
            .map(|r| format!(" (resource `{}`)", r.trim()))
            .unwrap_or_default();
        let resets = match response
            .header("x-ratelimit-reset")
            .and_then(|r| r.trim().parse::<i64>().ok())
        {
            Some(epoch) => format!("; it resets at {}", reset_time(epoch, now_epoch())),
            None => String::new(),
        };
        let hint = if self.token.is_some() {
            ""
        } else {
            " (anonymous requests share 60 an hour per address; give source.access_token for 5,000)"
        };
        Error::failed(format!(
            "{}: {} {}: the GitHub API rate limit{limit}{resource} is used up{resets}{hint}",
            get.what(),
            response.status,
            response.reason,
        ))
    }
}

impl<T: Transport> Transport for GitHub<T> {
    /// Sends `request` as given, honouring rate-limit answers: a used-up limit
    /// (`x-ratelimit-remaining: 0`) is an error saying when it resets; a short `retry-after`
    /// is waited for and the request sent again, a long one is an error.
    fn get(&mut self, request: &Get) -> Result<Response, Error> {
        self.honour(request, |t| t.get(request))
    }

    /// [`GitHub::get`], streaming a successful body into `out`.
    fn get_to(&mut self, request: &Get, out: &mut dyn Write) -> Result<Response, Error> {
        self.honour(request, |t| t.get_to(request, out))
    }
}

impl<T: Transport> GitHub<T> {
    /// Sends `request` with `send` until the answer is not a rate limit to wait for.
    fn honour(
        &mut self,
        request: &Get,
        mut send: impl FnMut(&mut T) -> Result<Response, Error>,
    ) -> Result<Response, Error> {
        loop {
            let response = send(&mut self.transport)?;
            if !matches!(response.status, 403 | 429) {
                return Ok(response);
            }
            if response
                .header("x-ratelimit-remaining")
                .is_some_and(|r| r.trim() == "0")
            {
                return Err(self.exhausted(request, &response));
            }
            let retry_after = response
                .header("retry-after")
                .and_then(|r| r.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            match retry_after {
                Some(wait) if wait <= MAX_RETRY_AFTER && self.waited + wait <= MAX_TOTAL_WAIT => {
                    lockgate_sdk::info!(
                        "{}: {} with retry-after {} s (a secondary rate limit); waiting, then asking again",
                        request.what(),
                        response.status,
                        wait.as_secs()
                    );
                    (self.sleep)(wait);
                    self.waited += wait;
                }
                Some(wait) => {
                    return Err(Error::failed(format!(
                        "{}: {} {}: GitHub asks to retry after {} s (a secondary rate limit), longer than this plugin waits ({} s at once, {} s in all); the next check tries again: {}",
                        request.what(),
                        response.status,
                        response.reason,
                        wait.as_secs(),
                        MAX_RETRY_AFTER.as_secs(),
                        MAX_TOTAL_WAIT.as_secs(),
                        preview(&response.body)
                    )));
                }
                None if response.status == 429
                    || String::from_utf8_lossy(&response.body).contains("rate limit") =>
                {
                    return Err(Error::failed(format!(
                        "{}: {} {}: a GitHub rate limit was hit (no retry-after given; GitHub asks to wait at least a minute): {}",
                        request.what(),
                        response.status,
                        response.reason,
                        preview(&response.body)
                    )));
                }
                None => return Ok(response),
            }
        }
    }
}

/// The body of `response` as `D`.
fn decode<D: DeserializeOwned>(get: &Get, response: &Response) -> Result<D, Error> {
    serde_json::from_slice(&response.body).map_err(|e| {
        Error::failed(format!(
            "{}: the answer is not the JSON expected ({e}): {}",
            get.what(),
            preview(&response.body)
        ))
    })
}

/// The `rel="next"` URL of a `Link` header, if any.
pub fn next_link(value: &str) -> Option<String> {
    // Split on the commas between links, not those inside `<…>`.
    let mut links = Vec::new();
    let mut start = 0;
    let mut inside = false;
    for (i, c) in value.char_indices() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            ',' if !inside => {
                links.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    links.push(&value[start..]);
    for link in links {
        let mut parts = link.split(';');
        let Some(target) = parts
            .next()
            .map(str::trim)
            .and_then(|t| t.strip_prefix('<'))
            .and_then(|t| t.strip_suffix('>'))
        else {
            continue;
        };
        let next = parts.any(|p| {
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if next {
            return Some(target.to_string());
        }
    }
    None
}

/// Seconds since the epoch, now.
fn now_epoch() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// `2026-12-07T14:03:20Z (in 37 min)`: when a rate limit resets, from epoch seconds.
pub fn reset_time(epoch: i64, now: i64) -> String {
    let when = jiff::Timestamp::from_second(epoch)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("epoch second {epoch}"));
    let left = epoch - now;
    let relative = if left <= 0 {
        "now".to_string()
    } else if left < 60 {
        format!("in {left} s")
    } else if left < 3600 {
        format!("in {} min {} s", left / 60, left % 60)
    } else {
        format!("in {} h {} min", left / 3600, left % 3600 / 60)
    };
    format!("{when} ({relative})")
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use release_feed::transport::testing::response;

    #[test]
    fn link_headers() {
        let github = r#"<https://api.github.com/repositories/1300192/releases?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1300192/releases?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_link(github).as_deref(),
            Some("https://api.github.com/repositories/1300192/releases?per_page=100&page=2")
        );
        let last_page = r#"<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=4>; rel="prev""#;
        assert_eq!(next_link(last_page), None);
        assert_eq!(next_link("<a,b>; rel=next").as_deref(), Some("a,b"));
        assert_eq!(
            next_link(r#"</p2>; rel="prev next""#).as_deref(),
            Some("/p2")
        );
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn reset_times() {
        assert_eq!(
            reset_time(1_800_000_000, 1_800_000_000 - 2225),
            "2027-01-15T08:00:00Z (in 37 min 5 s)"
        );
        assert_eq!(
            reset_time(1_800_000_000, 1_800_000_000 - 30),
            "2027-01-15T08:00:00Z (in 30 s)"
        );
        assert_eq!(
            reset_time(1_800_000_000, 1_800_000_000 - 7300),
            "2027-01-15T08:00:00Z (in 2 h 1 min)"
        );
        assert_eq!(
            reset_time(1_800_000_000, 1_800_000_001),
            "2027-01-15T08:00:00Z (now)"
        );
    }

    fn client<T: Transport>(t: T, token: Option<&str>) -> GitHub<T> {
        GitHub::new(
            t,
            "https://api.example",
            "octo",
            "cli",
            token.map(String::from),
        )
        .unwrap()
        .with_sleep(|_| {})
    }

    #[test]
    fn pages_are_followed_and_the_token_sent_to_the_api_only() {
        let seen = RefCell::new(Vec::new());
        let t = |g: &Get| {
            seen.borrow_mut().push(format!(
                "{} {}",
                g.url,
                g.header_value("authorization").unwrap_or("-")
            ));
            let (body, link) = match g.url.as_str() {
                "https://api.example/repos/octo/cli/releases?per_page=100" => (
                    r#"[{"id": 3, "tag_name": "v3", "draft": false, "prerelease": false}]"#,
                    Some(
                        r#"<https://api.example/repositories/9/releases?per_page=100&page=2>; rel="next""#,
                    ),
                ),
                "https://api.example/repositories/9/releases?per_page=100&page=2" => (
                    r#"[{"id": 2, "tag_name": "v2"}, {"id": 1, "tag_name": "", "draft": true}]"#,
                    None,
                ),
                other => panic!("unexpected {other}"),
            };
            let headers: Vec<(&str, &str)> = link.iter().map(|l| ("Link", *l)).collect();
            Ok(response(&g.url, 200, &headers, body))
        };
        let mut gh = client(t, Some("tok"));
        let (releases, pages) = gh.releases().unwrap();
        assert_eq!(pages, 2);
        let ids: Vec<u64> = releases.iter().map(|r| r.id).collect();
        assert_eq!(ids, [3, 2, 1]);
        assert!(releases[2].draft);
        assert_eq!(
            *seen.borrow(),
            [
                "https://api.example/repos/octo/cli/releases?per_page=100 Bearer tok",
                "https://api.example/repositories/9/releases?per_page=100&page=2 Bearer tok",
            ]
        );
        assert_eq!(
            gh.headers("https://cdn.example/x", "a").len(),
            3,
            "no token elsewhere"
        );
    }

    #[test]
    fn a_next_link_to_another_origin_keeps_the_token_home() {
        let t = |g: &Get| {
            Ok(response(
                &g.url,
                200,
                &[(
                    "Link",
                    "<https://evil.example/releases?page=2>; rel=\"next\"",
                )],
                "[]",
            ))
        };
        let e = client(t, Some("tok")).releases().unwrap_err();
        assert!(
            e.message().contains("leads to https://evil.example/releases?page=2, another origin than https://api.example: refusing to send the access token there"),
            "{e}"
        );
    }

    #[test]
    fn an_exhausted_rate_limit_says_when_it_resets() {
        let t = |g: &Get| {
            Ok(response(
                &g.url,
                403,
                &[
                    ("x-ratelimit-limit", "60"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1800000000"),
                    ("x-ratelimit-resource", "core"),
                ],
                r#"{"message": "API rate limit exceeded for 203.0.113.7."}"#,
            ))
        };
        let e = client(t, None).releases().unwrap_err();
        let m = e.message();
        assert!(
            m.starts_with("GET https://api.example/repos/octo/cli/releases?per_page=100: 403 : the GitHub API rate limit of 60 requests an hour (resource `core`) is used up; it resets at 2027-01-15T08:00:00Z ("),
            "{m}"
        );
        assert!(m.ends_with("give source.access_token for 5,000)"), "{m}");
    }

    #[test]
    fn a_short_retry_after_is_waited_for_a_long_one_is_an_error() {
        let calls = RefCell::new(0);
        let t = |g: &Get| {
            *calls.borrow_mut() += 1;
            if *calls.borrow() == 1 {
                Ok(response(&g.url, 429, &[("retry-after", "2")], "slow down"))
            } else {
                Ok(response(&g.url, 200, &[], "[]"))
            }
        };
        let mut gh = client(t, None);
        assert!(gh.releases().unwrap().0.is_empty());
        assert_eq!(gh.waited, Duration::from_secs(2));
        assert_eq!(*calls.borrow(), 2);

        let t = |g: &Get| {
            Ok(response(
                &g.url,
                403,
                &[("retry-after", "120")],
                "secondary",
            ))
        };
        let e = client(t, None).releases().unwrap_err();
        assert!(
            e.message().contains("GitHub asks to retry after 120 s (a secondary rate limit), longer than this plugin waits (20 s at once, 30 s in all)"),
            "{e}"
        );
        // Retried until the total wait would pass its bound.
        let calls = RefCell::new(0);
        let t = |g: &Get| {
            *calls.borrow_mut() += 1;
            Ok(response(&g.url, 429, &[("retry-after", "15")], "again"))
        };
        let e = client(t, None).releases().unwrap_err();
        assert_eq!(*calls.borrow(), 3, "{e}");
        let t = |g: &Get| Ok(response(&g.url, 429, &[], "too many"));
        let e = client(t, None).releases().unwrap_err();
        assert!(
            e.message()
                .contains("a GitHub rate limit was hit (no retry-after given"),
            "{e}"
        );
    }

    #[test]
    fn refusals_are_worded() {
        let t = |g: &Get| Ok(response(&g.url, 404, &[], r#"{"message":"Not Found"}"#));
        let e = client(t, None).releases().unwrap_err();
        assert!(
            e.message().contains("404: the repository octo/cli does not exist or is private (give source.access_token)"),
            "{e}"
        );
        let t = |g: &Get| {
            Ok(response(
                &g.url,
                401,
                &[],
                r#"{"message":"Bad credentials"}"#,
            ))
        };
        let e = client(t, Some("x")).releases().unwrap_err();
        assert!(
            e.message()
                .contains("401: GitHub refused source.access_token"),
            "{e}"
        );
        // A plain 403 (no rate-limit headers) is a permission problem.
        let t = |g: &Get| {
            Ok(response(
                &g.url,
                403,
                &[],
                r#"{"message":"Resource not accessible"}"#,
            ))
        };
        let e = client(t, Some("x")).releases().unwrap_err();
        assert!(
            e.message()
                .contains("403: GitHub forbids it (does the token"),
            "{e}"
        );
    }

    #[test]
    fn annotated_tags_lead_to_their_commit() {
        let t = |g: &Get| {
            let body = match g.url.as_str() {
                "https://api.example/repos/octo/cli/git/ref/tags/v1.0.0" => {
                    r#"{"ref":"refs/tags/v1.0.0","object":{"sha":"aaa","type":"tag"}}"#
                }
                "https://api.example/repos/octo/cli/git/tags/aaa" => {
                    r#"{"sha":"aaa","tag":"v1.0.0","object":{"sha":"c0ffee","type":"commit"}}"#
                }
                "https://api.example/repos/octo/cli/git/ref/tags/v2.0.0" => {
                    r#"{"ref":"refs/tags/v2.0.0","object":{"sha":"beef","type":"commit"}}"#
                }
                _ => return Ok(response(&g.url, 404, &[], "{}")),
            };
            Ok(response(&g.url, 200, &[], body))
        };
        let mut gh = client(t, None);
        assert_eq!(gh.commit_sha("v1.0.0").unwrap().as_deref(), Some("c0ffee"));
        assert_eq!(gh.commit_sha("v2.0.0").unwrap().as_deref(), Some("beef"));
        assert_eq!(gh.commit_sha("v9").unwrap(), None);
    }
}
