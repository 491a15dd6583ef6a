"""Test step `{{name}}`: one test case per check of `config.checks`, each asserting that a file
of the inputs exists and, optionally, contains a string.

A starting point: change `run` to judge your environment. Return failing cases in the report;
raise `Err(PluginError_InvalidConfig(...))` only when the tests cannot run at all.
"""

import json
import time

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import (
    CaseStatus,
    Capabilities,
    Description,
    PluginError_InvalidConfig,
    PluginKind,
    TestCase,
    TestReport,
    TestSuite,
)

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "suite": {"type": "string", "default": "{{name}}"},
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "file": {"type": "string", "description": "<input>/<path>"},
                    "contains": {"type": "string"},
                },
                "required": ["file"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["checks"],
    "additionalProperties": False,
}


def _invalid(message):
    return Err(PluginError_InvalidConfig(message))


def _parse(text):
    try:
        config = json.loads(text or "{}")
    except ValueError as e:
        raise _invalid(f"config: not valid JSON: {e}") from None
    if not isinstance(config, dict) or not isinstance(config.get("checks"), list):
        raise _invalid("config.checks must be a list")
    for i, check in enumerate(config["checks"]):
        ref = check.get("file") if isinstance(check, dict) else None
        parts = ref.split("/") if isinstance(ref, str) else []
        if len(parts) < 2 or any(p in ("", ".", "..") for p in parts):
            raise _invalid(f"config.checks[{i}].file must be <input>/<path>")
    return config


def _judge(check):
    path = "/inputs/" + check["file"]
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return CaseStatus.FAILED, f"{check['file']} does not exist"
    except OSError as e:
        return CaseStatus.ERRORED, f"{check['file']}: {e.strerror or e}"
    wanted = check.get("contains")
    if wanted is not None and wanted not in text:
        return CaseStatus.FAILED, f"{check['file']} does not contain {wanted!r}"
    return CaseStatus.PASSED, None


class TestOps(exports.TestOps):
    def describe(self) -> Description:
        return Description(
            name="{{name}}",
            version="0.1.0",
            kind=PluginKind.TEST_STEP,
            summary="Checks that files of the inputs exist and contain what they should",
            source_schema=None,
            get_params_schema=None,
            put_params_schema=None,
            config_schema=json.dumps(CONFIG_SCHEMA),
            capabilities=Capabilities(network=[], env=[], dirs=[]),
        )

    def run(self, config) -> TestReport:
        config = _parse(config)
        cases = []
        for check in config["checks"]:
            start = time.monotonic()
            status, message = _judge(check)
            elapsed = int((time.monotonic() - start) * 1000)
            cases.append(TestCase(check.get("name", check["file"]), status, elapsed, message))
        host.log(host.Level.INFO, f"{len(cases)} case(s) run on inputs {host.inputs()}")
        return TestReport([TestSuite(config.get("suite", "{{name}}"), cases)])
