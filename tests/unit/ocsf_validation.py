"""Offline OCSF validation for tests: the packaged OCSF JSON schema (``ocsf-json-schema``) + ``jsonschema``.

``finding_errors(event)`` returns every problem with an OCSF event as readable strings (empty when
valid). The JSON schema does not tie ``type_uid`` to ``class_uid`` and ``activity_id``, nor
``category_uid`` to ``class_uid``, so those two checks are added here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema


@lru_cache(maxsize=4)
def _schema(version: str) -> OcsfJsonSchemaEmbedded:
    return OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))


@lru_cache(maxsize=64)
def validator(version: str, class_uid: int, profiles: tuple[str, ...]) -> Draft202012Validator:
    """A cached validator for one OCSF version, class and (sorted) profile set."""
    schema = _schema(version)
    name = schema.lookup_class_name_from_uid(class_uid)
    class_schema = schema.get_class_schema(class_name=name, profiles=list(profiles))
    Draft202012Validator.check_schema(class_schema)
    return Draft202012Validator(class_schema)


def finding_errors(event: dict[str, Any], *, version: str | None = None) -> list[str]:
    """Problems with ``event`` against its own ``metadata.version`` (or ``version``) and profiles."""
    metadata = event.get("metadata") or {}
    version = version or metadata.get("version", "1.5.0")
    profiles = tuple(sorted(metadata.get("profiles", [])))
    check = validator(version, int(event.get("class_uid", 0)), profiles)
    errors = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(event)]
    class_uid, activity_id = event.get("class_uid"), event.get("activity_id")
    if isinstance(class_uid, int) and isinstance(activity_id, int):
        if event.get("type_uid") != class_uid * 100 + activity_id:
            errors.append("type_uid != class_uid * 100 + activity_id")
        if event.get("category_uid") != class_uid // 1000:
            errors.append("category_uid != class_uid // 1000")
    return errors
