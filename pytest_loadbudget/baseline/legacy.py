"""Saved runs of schema 1, mapped to today's machine and model identities.

Schema 1 hashed software into the machine id and keyed a model by
``format:origin:name:options@device``, with the name always filled in. Its
hardware facts give the machine id it would have today; its keys give the
identities: the name when it differs from the file's (or loader's) own
name, which only ``name=`` could have set; otherwise the path with the
options, and the name as well, since ``name=`` may have repeated the default.
What cannot be mapped is said, with the reason, never guessed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_loadbudget.baseline.fingerprint import HARDWARE_FACTS, machine_id
from pytest_loadbudget.model.identity import display_name, model_identity
from pytest_loadbudget.results.record import ModelRecord

#: Every schema 1 key ends its options with the warm-up.
_WARMUP = ";warmup="


def hardware_id(facts: dict[str, Any]) -> tuple[str, str]:
    """The machine id a schema 1 run's facts give today, and "" with the reason when they cannot."""
    missing = [fact for fact in HARDWARE_FACTS if fact not in facts]
    if missing:
        return "", f"its machine facts lack {', '.join(missing)}: the hardware it ran on is unknown"
    return machine_id(facts), ""


def identities(record: ModelRecord) -> tuple[list[str], str]:
    """The identities a schema 1 record answers to, best first; [] and the reason when none."""
    key, name = record.key, record.name
    prefix = f"{record.format}:"
    body, at, where = key[len(prefix):].rpartition("@") if key.startswith(prefix) else ("", "", "")
    marker = f":{name}:"
    cut = body.find(marker)
    if not at or cut < 0 or _WARMUP not in body[cut + len(marker):]:
        return [], f"its key {key!r} is not format:origin:name:options@device"
    origin, options = body[:cut], body[cut + len(marker):]
    by_name = model_identity(where, name=name)
    default = origin.rsplit(".", 1)[-1] if record.format == "callable" else display_name(Path(origin))
    if name != default:
        return [by_name], ""
    return [model_identity(where, format_name=record.format, origin=origin, options=options), by_name], ""
