"""Logic of the `semver-files` resource type, free of any WebAssembly binding.

A release is a file named `<prefix><semver><suffix>` (by default `release-1.4.2.txt`) in one
directory the pipeline grants, `/dirs/<name>`. Every such file is a version `{"version":
"1.4.2"}`; versions are ordered by semantic-version precedence (semver.org 2.0.0).

Everything here runs under a plain CPython too (`python3 -m unittest` in this folder); app.py
maps it onto the WIT interface `lockgate:plugin/resource-ops`.
"""

import errno
import hashlib
import json
import os
import re

# semver.org's regular expression, anchored, without the `v` prefix.
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)

SANDBOX_ROOTS = ("/dirs/", "/inputs/", "/cache", "/output")


class PluginError(Exception):
    """An error of one of the WIT `plugin-error` kinds: invalid-config, not-found, failed."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def invalid_config(message):
    return PluginError("invalid-config", message)


def not_found(message):
    return PluginError("not-found", message)


def failed(message):
    return PluginError("failed", message)


# ---------------------------------------------------------------------------------------------
# Semantic versions


def parse_semver(text):
    """The precedence key of `text`, or None when it is not a semantic version."""
    m = SEMVER.fullmatch(text)
    if m is None:
        return None
    major, minor, patch, pre, _build = m.groups()
    if pre is None:
        # A release sorts after all of its pre-releases.
        pre_key = (1,)
    else:
        pre_key = (0,) + tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split(".")
        )
    return (int(major), int(minor), int(patch), pre_key)


def semver_sort_key(text):
    """Sort key: precedence, then the text itself (build metadata does not count in precedence)."""
    return (parse_semver(text), text)


# ---------------------------------------------------------------------------------------------
# Configuration


def parse_json(text, what):
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise invalid_config(f"{what}: not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise invalid_config(f"{what}: expected an object, found {type(value).__name__}")
    return value


def _string(obj, key, what, default=None, required=False):
    if key not in obj:
        if required:
            raise invalid_config(f"{what}.{key} is required")
        return default
    value = obj[key]
    if not isinstance(value, str):
        raise invalid_config(f"{what}.{key} must be a string, found {json.dumps(value)}")
    return value


def _no_unknown_keys(obj, allowed, what):
    for key in obj:
        if key not in allowed:
            raise invalid_config(
                f"{what}.{key} is not a known field (known: {', '.join(sorted(allowed))})"
            )


class Source:
    """`source`: where the releases are and how they are named."""

    KEYS = ("dir", "prefix", "suffix", "prereleases")

    def __init__(self, text):
        obj = parse_json(text, "source")
        _no_unknown_keys(obj, self.KEYS, "source")
        self.dir = _string(obj, "dir", "source", required=True).rstrip("/")
        if not self.dir.startswith("/dirs/") or ".." in self.dir.split("/"):
            raise invalid_config(
                f"source.dir: `{self.dir}` must be a granted directory `/dirs/<name>[/sub/dir]`"
            )
        self.prefix = _string(obj, "prefix", "source", default="release-")
        self.suffix = _string(obj, "suffix", "source", default=".txt")
        for key in ("prefix", "suffix"):
            if "/" in getattr(self, key):
                raise invalid_config(f"source.{key} must not contain `/`")
        self.prereleases = obj.get("prereleases", False)
        if not isinstance(self.prereleases, bool):
            raise invalid_config("source.prereleases must be true or false")

    def file_name(self, version):
        return f"{self.prefix}{version}{self.suffix}"

    def path(self, version):
        return f"{self.dir}/{self.file_name(version)}"

    def version_of(self, file_name):
        """The semantic version a file name carries, or None."""
        if not (file_name.startswith(self.prefix) and file_name.endswith(self.suffix)):
            return None
        middle = file_name[len(self.prefix) : len(file_name) - len(self.suffix)]
        key = parse_semver(middle)
        if key is None:
            return None
        if not self.prereleases and key[3] != (1,):
            return None
        return middle


def input_file(reference, what):
    """`<input>/<relative path>` -> `/inputs/<input>/<relative path>`, refusing `..` and `/x`."""
    parts = reference.split("/")
    if reference.startswith("/") or any(p in ("", ".", "..") for p in parts) or len(parts) < 2:
        raise invalid_config(
            f"{what}: `{reference}` must be a relative path `<input>/<file>` without `.` or `..`"
        )
    return "/inputs/" + reference


# ---------------------------------------------------------------------------------------------
# Operations


def list_versions(source):
    """Every version in `source.dir`, oldest first."""
    try:
        names = os.listdir(source.dir)
    except FileNotFoundError:
        raise not_found(
            f"source.dir: {source.dir} does not exist (is it granted? `grants: {{dirs: {{...}}}}`)"
        ) from None
    except OSError as e:
        raise failed(f"listing {source.dir}: {e.strerror or e}") from None
    versions = {v for v in map(source.version_of, names) if v is not None}
    return sorted(versions, key=semver_sort_key)


def check(source, from_version):
    versions = list_versions(source)
    if not versions:
        return []
    if from_version is not None and from_version in versions:
        return versions[versions.index(from_version) :]
    return versions[-1:]


def file_facts(path, data):
    return [
        ("file", os.path.basename(path)),
        ("size", str(len(data))),
        ("sha256", hashlib.sha256(data).hexdigest()),
    ]


def read_release(source, version):
    if version is None or parse_semver(version) is None:
        raise invalid_config(f"version: expected {{\"version\": \"<semver>\"}}, found {version!r}")
    path = source.path(version)
    try:
        with open(path, "rb") as f:
            return path, f.read()
    except FileNotFoundError:
        raise not_found(f"version {version}: {path} does not exist (any more)") from None
    except OSError as e:
        raise failed(f"reading {path}: {e.strerror or e}") from None


def get(source, version, params_text, output="/output"):
    """Copies the release into `output`: `version` holds the version, `file` the bytes."""
    params = parse_json(params_text, "params")
    _no_unknown_keys(params, (), "params")
    path, data = read_release(source, version)
    try:
        with open(f"{output}/file", "wb") as f:
            f.write(data)
        with open(f"{output}/version", "w") as f:
            f.write(version + "\n")
    except OSError as e:
        raise failed(f"writing {output}: {e.strerror or e}") from None
    return version, file_facts(path, data)


def put(source, params_text):
    """Publishes `params.file` as `<dir>/<prefix><version><suffix>`; idempotent."""
    params = parse_json(params_text, "params")
    _no_unknown_keys(params, ("file", "version", "version_file"), "params")
    src = input_file(_string(params, "file", "params", required=True), "params.file")
    version = _string(params, "version", "params")
    version_file = _string(params, "version_file", "params")
    if (version is None) == (version_file is None):
        raise invalid_config("params: give exactly one of `version` and `version_file`")
    if version_file is not None:
        vpath = input_file(version_file, "params.version_file")
        try:
            with open(vpath) as f:
                version = f.read().strip()
        except FileNotFoundError:
            raise not_found(f"params.version_file: {vpath} does not exist") from None
        except OSError as e:
            raise failed(f"reading {vpath}: {e.strerror or e}") from None
    if parse_semver(version) is None:
        raise invalid_config(f"params: `{version}` is not a semantic version (like 1.4.2)")
    try:
        with open(src, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise not_found(f"params.file: {src} does not exist") from None
    except OSError as e:
        raise failed(f"reading {src}: {e.strerror or e}") from None

    target = source.path(version)
    try:
        with open(target, "rb") as f:
            existing = f.read()
    except FileNotFoundError:
        existing = None
    except OSError as e:
        raise failed(f"reading {target}: {e.strerror or e}") from None
    if existing is not None and existing != data:
        raise failed(f"{target} already exists with other content: versions are immutable")
    if existing is None:
        tmp = f"{source.dir}/.{source.file_name(version)}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except OSError as e:
            hint = ""
            if e.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
                hint = " (is the directory granted `writable: true`?)"
            raise failed(f"writing {target}: {e.strerror or e}{hint}") from None
    return version, file_facts(target, data)
