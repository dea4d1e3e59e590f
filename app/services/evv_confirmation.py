"""The person's or family's confirmation of a visit at check-out: a PIN, checked against
the one the agency set for the person, or a signature drawn on the phone.

What an action keeps in its ``confirmation`` (and the verification record copies):

- a PIN: ``{"method": "pin", "by": ..., "ok": bool}``, with a ``reason`` when not ok:
  ``no_pin`` (the person has none set), ``wrong_pin``, or ``too_many_attempts``. The PIN
  itself is never stored anywhere; the person's PIN only as an argon2 hash.
- a signature: ``{"method": "signature", "by": ..., "ok": true, "path": ..., "box": [w, h]}``,
  the strokes as SVG path data in a ``w`` x ``h`` box (the pad's coordinates).

Guessing is limited without a table of its own: the wrong PINs are the stored actions
that say so. After ``MAX_WRONG_PINS`` of them for one person in a local day (by the
server's clock, which a phone cannot set back), every PIN for that person is refused
until the day ends, the right one too. A replayed action is answered from what was
stored the first time, so it neither checks the PIN again nor counts twice.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import EvvAction, InsuredPerson, Visit
from app.services.auth import hash_password, verify_password

PIN = "pin"
SIGNATURE = "signature"
PIN_PATTERN = r"^[0-9]{4,6}$"
MAX_WRONG_PINS = 5
NO_PIN = "no_pin"
WRONG_PIN = "wrong_pin"
TOO_MANY_ATTEMPTS = "too_many_attempts"

# The signature pad's box (static/js/mobile_signature.js draws in the same one).
SIGNATURE_BOX = (400, 160)
MAX_SIGNATURE_CHARS = 20_000
# A tap or a dot is not a signature: enough points, spread over enough of the box.
MIN_SIGNATURE_POINTS = 10
MIN_SIGNATURE_EXTENT = 30
_PAIRS_PER_COMMAND = {"M": 1, "L": 1, "Q": 2}
_TOKEN = re.compile(r"[A-Za-z]|[^A-Za-z\s,]+")
_NUMBER = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,2})?$")


@dataclass(frozen=True)
class Confirmation:
    """A confirmation as the phone sends it: the PIN or the signature in ``value``."""

    method: str  # "pin" | "signature"
    by: str  # "person" | "family"
    value: str


def set_pin(person: InsuredPerson, pin: str | None) -> None:
    """Give the person a confirmation PIN (``None`` removes it). Only its hash is kept."""
    person.confirmation_pin_hash = None if pin is None else hash_password(pin)


def is_confirmed(confirmation: dict[str, Any] | None) -> bool:
    """Whether a stored confirmation confirms the visit (a wrong PIN does not)."""
    return confirmation is not None and confirmation.get("ok") is True


def signature_points(path: str) -> list[tuple[float, float]]:
    """The points of a signature's SVG path data, or ValueError saying what is wrong.

    Accepted: absolute ``M``, ``L`` and ``Q`` commands with unsigned numbers (at most two
    decimals) inside ``SIGNATURE_BOX``, starting with ``M``; at most
    ``MAX_SIGNATURE_CHARS`` characters; at least ``MIN_SIGNATURE_POINTS`` points spread
    over ``MIN_SIGNATURE_EXTENT`` units of the box. Nothing else can reach the inline
    SVG that shows it.
    """
    if len(path) > MAX_SIGNATURE_CHARS:
        raise ValueError(
            _("The signature is too long (%(n)s characters at most).", n=MAX_SIGNATURE_CHARS)
        )
    tokens = _TOKEN.findall(path)
    if not tokens or tokens[0] != "M":
        raise ValueError(_("A signature must start with an M command."))
    points: list[tuple[float, float]] = []
    command = ""
    numbers: list[float] = []
    for token in [*tokens, "M"]:  # the sentinel closes the last command
        if token.isalpha():
            if token not in _PAIRS_PER_COMMAND:
                raise ValueError(_("Only the path commands M, L and Q are allowed."))
            if command:
                points.extend(_command_points(command, numbers))
            command, numbers = token, []
        elif _NUMBER.match(token):
            numbers.append(float(token))
        else:
            raise ValueError(_("Not a number in the signature: %(token)s", token=token[:12]))
    _check_spread(points)
    return points


def _command_points(command: str, numbers: list[float]) -> list[tuple[float, float]]:
    size = 2 * _PAIRS_PER_COMMAND[command]
    if not numbers or len(numbers) % size:
        raise ValueError(
            _("The %(command)s command has the wrong count of numbers.", command=command)
        )
    width, height = SIGNATURE_BOX
    pairs = list(zip(numbers[::2], numbers[1::2], strict=True))
    if any(x > width or y > height for x, y in pairs):
        raise ValueError(_("The signature leaves its %(w)s x %(h)s box.", w=width, h=height))
    return pairs


def _check_spread(points: list[tuple[float, float]]) -> None:
    xs, ys = [x for x, _y in points], [y for _x, y in points]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    if len(set(points)) < MIN_SIGNATURE_POINTS or extent < MIN_SIGNATURE_EXTENT:
        raise ValueError(_("This is too small to be a signature: please sign again."))


def resolve(
    session: Session, person_id: int, given: Confirmation, *, now: dt.datetime, timezone: str
) -> dict[str, Any]:
    """What an action keeps of ``given`` for the person (checks a PIN; flushes nothing).

    ``given`` is already validated for shape (the API schema). For a PIN the person's row
    is locked until the commit, so that two phones guessing at once are counted one
    after the other.
    """
    if given.method == SIGNATURE:
        return {
            "method": SIGNATURE,
            "by": given.by,
            "ok": True,
            "path": given.value,
            "box": list(SIGNATURE_BOX),
        }
    pin_hash = session.scalar(
        select(InsuredPerson.confirmation_pin_hash)
        .where(InsuredPerson.id == person_id)
        .with_for_update()
    )
    reason = _pin_problem(session, person_id, pin_hash, given.value, now, timezone)
    stored: dict[str, Any] = {"method": PIN, "by": given.by, "ok": reason is None}
    if reason is not None:
        stored["reason"] = reason
    return stored


def _pin_problem(
    session: Session,
    person_id: int,
    pin_hash: str | None,
    pin: str,
    now: dt.datetime,
    timezone: str,
) -> str | None:
    if pin_hash is None:
        return NO_PIN
    if wrong_pins_today(session, person_id, now, timezone) >= MAX_WRONG_PINS:
        return TOO_MANY_ATTEMPTS
    return None if verify_password(pin_hash, pin) else WRONG_PIN


def wrong_pins_today(session: Session, person_id: int, now: dt.datetime, timezone: str) -> int:
    """Wrong PINs stored for the person's visits since local midnight of ``now``."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    start, end = (
        dt.datetime.combine(day, dt.time(), tzinfo=tz) for day in (today, today + dt.timedelta(1))
    )
    count = session.scalar(
        select(func.count())
        .select_from(EvvAction)
        .join(Visit, Visit.id == EvvAction.visit_id)
        .where(
            Visit.person_id == person_id,
            EvvAction.received_at >= start,
            EvvAction.received_at < end,
            EvvAction.confirmation["reason"].as_string() == WRONG_PIN,
        )
    )
    return int(count or 0)
