"""Resource type `semver-files`: releases are files `<prefix><semver><suffix>` in a granted
directory, ordered by semantic version. Built into a WASI p2 component by componentize-py
(see build.sh); the logic lives in semver_files.py.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import (
    Capabilities,
    Description,
    Fetched,
    Pair,
    PluginError_Failed,
    PluginError_InvalidConfig,
    PluginError_NotFound,
    PluginKind,
)

import semver_files as sf

VERSION = "0.1.0"

SOURCE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "dir": {
            "type": "string",
            "pattern": "^/dirs/",
            "description": "The granted directory holding the releases, e.g. /dirs/releases",
        },
        "prefix": {"type": "string", "default": "release-"},
        "suffix": {"type": "string", "default": ".txt"},
        "prereleases": {
            "type": "boolean",
            "default": False,
            "description": "Also take pre-releases such as 2.0.0-rc.1",
        },
    },
    "required": ["dir"],
    "additionalProperties": False,
}

GET_PARAMS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "description": "get takes no params; it writes /output/version and /output/file.",
    "type": "object",
    "additionalProperties": False,
}

PUT_PARAMS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "description": "Publish an input file as the release of a version (given, or read from a file).",
    "type": "object",
    "properties": {
        "file": {"type": "string", "description": "<input>/<path> of the file to publish"},
        "version": {"type": "string", "description": "The semantic version, e.g. 1.4.2"},
        "version_file": {
            "type": "string",
            "description": "<input>/<path> of a file holding the version",
        },
    },
    "required": ["file"],
    "oneOf": [{"required": ["version"]}, {"required": ["version_file"]}],
    "additionalProperties": False,
}

ERRORS = {
    "invalid-config": PluginError_InvalidConfig,
    "not-found": PluginError_NotFound,
    "failed": PluginError_Failed,
}


def _guard(operation):
    """Runs `operation`, mapping every exception to a WIT `plugin-error` variant."""
    try:
        return operation()
    except sf.PluginError as e:
        host.log(host.Level.ERROR, e.message)
        raise Err(ERRORS[e.kind](e.message)) from None
    except Err:
        raise
    except Exception as e:  # a bug: report it as `failed` rather than trapping
        raise Err(PluginError_Failed(f"internal error: {type(e).__name__}: {e}")) from None


def _version(version):
    return [Pair("version", version)]


def _fetched(version, facts):
    return Fetched(_version(version), [Pair(name, value) for name, value in facts])


def _version_field(pairs):
    if pairs is None:
        return None
    for pair in pairs:
        if pair.name == "version":
            return pair.value
    return None


class ResourceOps(exports.ResourceOps):
    def describe(self) -> Description:
        return Description(
            name="semver-files",
            version=VERSION,
            kind=PluginKind.RESOURCE_TYPE,
            summary="Releases as files <prefix><semver><suffix> in a granted directory, newest by semver",
            source_schema=json.dumps(SOURCE_SCHEMA),
            get_params_schema=json.dumps(GET_PARAMS_SCHEMA),
            put_params_schema=json.dumps(PUT_PARAMS_SCHEMA),
            config_schema=None,
            capabilities=Capabilities(network=[], env=[], dirs=[]),
        )

    def check(self, source, from_):
        def run():
            src = sf.Source(source)
            versions = sf.check(src, _version_field(from_))
            host.log(host.Level.DEBUG, f"{src.dir}: {len(versions)} version(s) from {_version_field(from_)}")
            return [_version(v) for v in versions]

        return _guard(run)

    def get(self, source, version, params):
        def run():
            src = sf.Source(source)
            v, facts = sf.get(src, _version_field(version), params)
            host.log(host.Level.INFO, f"fetched {src.file_name(v)}")
            return _fetched(v, facts)

        return _guard(run)

    def put(self, source, params):
        def run():
            src = sf.Source(source)
            v, facts = sf.put(src, params)
            host.log(host.Level.INFO, f"published {src.path(v)}")
            return _fetched(v, facts)

        return _guard(run)
