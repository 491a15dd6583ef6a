"""Resource type `{{name}}`: every file of a granted directory whose name starts with
`source.prefix` is a version `{"file": "<name>"}`, ordered by name.

A starting point: change check/get/put to talk to your system. Errors are raised as
`Err(PluginError_...)` (invalid-config, not-found, failed); anything else raised becomes
`failed` through `_guard`.
"""

import json
import os
import shutil

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

SOURCE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "dir": {"type": "string", "pattern": "^/dirs/", "description": "e.g. /dirs/releases"},
        "prefix": {"type": "string", "default": "", "description": "Only files starting with it"},
    },
    "required": ["dir"],
    "additionalProperties": False,
}

PUT_PARAMS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"file": {"type": "string", "description": "<input>/<path> to publish"}},
    "required": ["file"],
    "additionalProperties": False,
}


def _json_object(text, what):
    try:
        value = json.loads(text or "{}")
    except ValueError as e:
        raise Err(PluginError_InvalidConfig(f"{what}: not valid JSON: {e}")) from None
    if not isinstance(value, dict):
        raise Err(PluginError_InvalidConfig(f"{what}: expected an object"))
    return value


def _source(text):
    source = _json_object(text, "source")
    directory = source.get("dir")
    if not isinstance(directory, str) or not directory.startswith("/dirs/"):
        raise Err(PluginError_InvalidConfig("source.dir must be a granted directory /dirs/<name>"))
    prefix = source.get("prefix", "")
    if not isinstance(prefix, str) or "/" in prefix:
        raise Err(PluginError_InvalidConfig("source.prefix must be a string without `/`"))
    return directory.rstrip("/"), prefix


def _files(directory, prefix):
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        raise Err(PluginError_NotFound(f"{directory} does not exist: is it granted?")) from None
    return sorted(n for n in names if n.startswith(prefix) and not n.startswith("."))


def _file_of(version):
    for pair in version or []:
        if pair.name == "file":
            return pair.value
    return None


def _guard(operation):
    try:
        return operation()
    except Err:
        raise
    except OSError as e:
        raise Err(PluginError_Failed(f"{e.filename or ''}: {e.strerror or e}")) from None
    except Exception as e:
        raise Err(PluginError_Failed(f"internal error: {type(e).__name__}: {e}")) from None


class ResourceOps(exports.ResourceOps):
    def describe(self) -> Description:
        return Description(
            name="{{name}}",
            version="0.1.0",
            kind=PluginKind.RESOURCE_TYPE,
            summary="Files of a granted directory, one version each",
            source_schema=json.dumps(SOURCE_SCHEMA),
            get_params_schema=None,
            put_params_schema=json.dumps(PUT_PARAMS_SCHEMA),
            config_schema=None,
            capabilities=Capabilities(network=[], env=[], dirs=[]),
        )

    def check(self, source, from_):
        def run():
            directory, prefix = _source(source)
            files = _files(directory, prefix)
            start = _file_of(from_)
            if start in files:
                files = files[files.index(start) :]
            else:
                files = files[-1:]
            host.log(host.Level.DEBUG, f"{directory}: {len(files)} version(s)")
            return [[Pair("file", f)] for f in files]

        return _guard(run)

    def get(self, source, version, params):
        def run():
            directory, prefix = _source(source)
            name = _file_of(version)
            if name is None or name not in _files(directory, prefix):
                raise Err(PluginError_NotFound(f"version {name!r} is not in {directory}"))
            shutil.copyfile(f"{directory}/{name}", f"/output/{name}")
            size = os.path.getsize(f"/output/{name}")
            return Fetched([Pair("file", name)], [Pair("size", str(size))])

        return _guard(run)

    def put(self, source, params):
        def run():
            directory, prefix = _source(source)
            reference = _json_object(params, "params").get("file")
            parts = reference.split("/") if isinstance(reference, str) else []
            if len(parts) < 2 or any(p in ("", ".", "..") for p in parts):
                raise Err(PluginError_InvalidConfig("params.file must be <input>/<path>"))
            src = "/inputs/" + reference
            if not os.path.isfile(src):
                raise Err(PluginError_NotFound(f"params.file: {src} does not exist"))
            name = prefix + parts[-1] if not parts[-1].startswith(prefix) else parts[-1]
            shutil.copyfile(src, f"{directory}/{name}")
            host.log(host.Level.INFO, f"published {directory}/{name}")
            return Fetched([Pair("file", name)], [Pair("from", reference)])

        return _guard(run)
