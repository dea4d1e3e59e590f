"""The time bank's rules as a city ships them: ``app/policy/timebank_policy.json``.

The file sets the storage cap per member (default 90,000 min = 1,500 h; earnings above it
go to the donation pool), optional credit weights per service category (off: ``{}``,
1 minute served = 1 minute credited), an optional expiry of unspent minutes (off:
``null``), the youngest beneficiary of a redemption (65) and how long a redemption hold
lasts (7 days). ``CAREROUTE_TIMEBANK_POLICY_FILE`` (application config, else environment)
points elsewhere. The file is validated in full; an error names the JSON path at fault.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context

import timebank
from app.models import ItemCategory
from app.policy import PolicyError

POLICY_FILE = Path(__file__).resolve().parents[1] / "policy" / "timebank_policy.json"
FORMAT = "careroute.timebank_policy/1"
_KEYS = {
    "format",
    "storage_cap_min",
    "category_weight_pct",
    "expiry_days",
    "redemption_min_age_years",
    "redemption_hold_timeout_s",
}


def _int(data: dict[str, Any], key: str, *, low: int, nullable: bool) -> int | None:
    value = data.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        allowed = " or null" if nullable else ""
        raise PolicyError(f"$.{key}", f"must be an integer >= {low}{allowed}")
    return value


def _weights(data: dict[str, Any]) -> dict[str, int]:
    raw = data.get("category_weight_pct", {})
    if not isinstance(raw, dict):
        raise PolicyError("$.category_weight_pct", "must be an object")
    known = {c.value for c in ItemCategory}
    for category, pct in raw.items():
        path = f"$.category_weight_pct.{category}"
        if category not in known:
            raise PolicyError(path, f"unknown category; one of {sorted(known)}")
        if not isinstance(pct, int) or isinstance(pct, bool) or not 1 <= pct <= 1000:
            raise PolicyError(path, "must be a percentage from 1 to 1000")
    return dict(raw)


def parse_policy(data: Any) -> timebank.Policy:
    """Validate a decoded policy document and return the ledger's :class:`timebank.Policy`."""
    if not isinstance(data, dict):
        raise PolicyError("$", "must be an object")
    if data.get("format") != FORMAT:
        raise PolicyError("$.format", f"must be {FORMAT!r}")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise PolicyError(f"$.{unknown[0]}", "unknown key")
    timeout_s = _int(data, "redemption_hold_timeout_s", low=1, nullable=False)
    assert timeout_s is not None  # not nullable: _int raised otherwise
    return timebank.Policy(
        storage_cap_min=_int(data, "storage_cap_min", low=1, nullable=True),
        category_weight_pct=_weights(data),
        expiry_days=_int(data, "expiry_days", low=1, nullable=True),
        redemption_min_age_years=_int(data, "redemption_min_age_years", low=0, nullable=True),
        redemption_hold_timeout_s=timeout_s,
    )


@functools.lru_cache(maxsize=8)
def _read(path: str) -> timebank.Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError("$", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("$", f"not valid JSON (line {exc.lineno}): {exc.msg}") from None
    return parse_policy(data)


def load_timebank_policy(path: str | Path | None = None) -> timebank.Policy:
    """The configured time-bank policy (cached per file)."""
    if path is None:
        configured = None
        if has_app_context():
            configured = current_app.config.get("CAREROUTE_TIMEBANK_POLICY_FILE")
        path = configured or os.environ.get("CAREROUTE_TIMEBANK_POLICY_FILE") or POLICY_FILE
    return _read(str(path))
