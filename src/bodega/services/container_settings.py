"""The schema of a container's settings (limits, network rules, compatibility flags) and its check."""
from __future__ import annotations

from typing import Any

from bodega.errors import InvalidSettings
from bodega.storage import strict_json

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "bodega container settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "cpu_limit": {"description": "CPU cores the container may use", "type": "number",
                      "exclusiveMinimum": 0, "maximum": 1024},
        "memory_limit_mb": {"description": "memory the container may use, in MiB", "type": "integer",
                            "minimum": 16, "maximum": 16 * 1024 * 1024},
        "network": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "default": {"description": "what rules do not match", "enum": ["allow", "deny"]},
                "rules": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["action", "host"],
                        "properties": {
                            "action": {"enum": ["allow", "deny"]},
                            "host": {"type": "string", "minLength": 1, "maxLength": 253},
                            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        },
                    },
                },
            },
        },
        "compat_flags": {"description": "e.g. force_32bit_path, disable_hw_accel", "type": "array",
                         "uniqueItems": True, "items": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}},
        "env": {"description": "runtime environment variables", "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
                "additionalProperties": {"type": "string"}},
        "mounts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["source", "target"],
                "properties": {
                    "source": {"type": "string", "minLength": 1},
                    "target": {"type": "string", "minLength": 1},
                    "read_only": {"type": "boolean"},
                },
            },
        },
    },
}


def validate_settings(settings: Any) -> dict[str, Any]:
    """settings if they match SETTINGS_SCHEMA; InvalidSettings naming the first problem otherwise."""
    import jsonschema  # imported here: only commands that change settings pay for it

    strict_json.check_plain(settings, "settings", InvalidSettings)  # before jsonschema walks it
    validator = jsonschema.Draft202012Validator(SETTINGS_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(settings))
    if error is not None:
        where = "settings" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise InvalidSettings(f"{where}: {error.message}")
    return dict(settings)


def parse_settings(text: str | bytes) -> dict[str, Any]:
    """Settings from JSON text, validated (NaN, Infinity, repeated keys and deep nesting refused)."""
    return validate_settings(strict_json.loads(text, "settings", InvalidSettings))


def read_settings_file(path: str) -> dict[str, Any]:
    """Settings from a JSON file (read up to strict_json.MAX_BYTES), validated."""
    return validate_settings(strict_json.read_file(path, "settings file", InvalidSettings))
