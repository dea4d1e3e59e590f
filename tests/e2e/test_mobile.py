"""The caregiver app in a real browser at a phone's size (390x844), against the real
application: log in, see today's route, check in with the phone's position at the
person's home, tick the items, check out — the visit is verified, as the dispatcher's
API shows (``/api/v1/evv/visits/<id>`` and the board's day data). A second visit is
checked in offline (kept in the outbox, sent when back online) 2 km from the home; it
lands in the dispatcher's exception queue.

The visits' windows are set around the current time, and the minimum-duration rule is
turned off for the live server (``EVV_MIN_DURATION_PCT = 0``): the test cannot wait for
a 45-minute visit. Every other rule applies as configured.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Caregiver, InsuredPerson, User, Visit, VisitAssignment, VisitStatus, utcnow
from app.services.visits import generate_visits, transition
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
STEP_TIMEOUT_MS = 15_000
TZ = ZoneInfo("Asia/Shanghai")
SHOTS = Path(os.environ.get("CAREROUTE_SCREENSHOTS", "/tmp/careroute-shots"))


def _window_around_now() -> list[list[str]]:
    now = dt.datetime.now(TZ)
    start = max(now - dt.timedelta(hours=1), now.replace(hour=0, minute=0))
    end = min(now + dt.timedelta(hours=1), now.replace(hour=23, minute=59))
    return [[start.strftime("%H:%M"), end.strftime("%H:%M")]]


def prepare_today(server: LiveServer) -> dict[str, Any]:
    """Two of today's visits assigned to a demo caregiver with a login; their details."""
    with server.app.app_context():
        s = db.session
        today = dt.datetime.now(TZ).date()
        generate_visits(s, today)
        u = s.scalar(
            select(User).where(User.caregiver_id.is_not(None)).order_by(User.username).limit(1)
        )
        assert u is not None
        cg = s.get(Caregiver, u.caregiver_id)
        visits = s.scalars(
            select(Visit)
            .where(
                Visit.date == today,
                Visit.agency_id == cg.agency_id,
                Visit.status == VisitStatus.PLANNED,
                Visit.staff_count == 1,
            )
            .order_by(Visit.id)
        ).all()
        # Two different persons, so the two homes are two places.
        by_person = {v.person_id: v for v in reversed(visits)}
        visits = sorted(by_person.values(), key=lambda v: v.id)[:2]
        assert len(visits) == 2, "the demo city has too few visits today"
        for v in visits:
            v.windows = _window_around_now()
            s.add(VisitAssignment(visit_id=v.id, caregiver_id=cg.id, assigned_at=utcnow()))
            transition(s, v, VisitStatus.ASSIGNED)
        s.commit()
        homes = [s.get(InsuredPerson, v.person_id) for v in visits]
        out = {
            "username": u.username,
            "visit_ids": [v.id for v in visits],
            "homes": [(p.lat, p.lon) for p in homes],
            "dispatcher": s.scalar(
                select(User.username)
                .where(User.role == "dispatcher", User.agency_id == cg.agency_id)
                .limit(1)
            ),
            "today": today,
        }
        db.session.remove()
    return out


@pytest.fixture(scope="module")
def setup(live_server: LiveServer) -> dict[str, Any]:
    live_server.app.config["EVV_MIN_DURATION_PCT"] = 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    return prepare_today(live_server)


def _context(browser: Any, **kwargs: Any) -> Any:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", **kwargs)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


@pytest.fixture
def phone(browser: Any, setup: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    lat, lon = setup["homes"][0]
    context = _context(
        browser,
        geolocation={"latitude": lat, "longitude": lon, "accuracy": 12},
        permissions=["geolocation"],
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield context, page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def log_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/auth/login")
    page.fill("#username", username)
    page.fill("#password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/home")


def card(page: Any, visit_id: int) -> Any:
    return page.locator(f'li.m-stop[data-visit-id="{visit_id}"]')


def check_in_and_out(page: Any, visit_id: int) -> None:
    stop = card(page, visit_id)
    stop.locator(".m-checkin").click()
    page.wait_for_selector(f'li.m-stop[data-visit-id="{visit_id}"] .m-checkout')
    for box in stop.locator('input[name="item"]').all():
        box.check()
    stop.locator(".m-checkout").click()


def test_caregiver_checks_in_and_out_and_the_visit_is_verified(
    live_server: LiveServer, setup: dict[str, Any], phone: tuple[Any, Any], browser: Any
) -> None:
    context, page = phone
    first, second = setup["visit_ids"]
    log_in(page, live_server, setup["username"])
    page.goto(f"{live_server.url}/m/")
    page.wait_for_selector('#m-stops[data-state="ready"]')
    assert card(page, first).count() == 1
    assert card(page, second).count() == 1
    assert card(page, first).get_attribute("data-status") == "assigned"
    nav = card(page, first).locator(".m-nav a").first.get_attribute("href")
    assert nav.startswith("geo:")
    page.screenshot(path=str(SHOTS / "mobile-1-route.png"), full_page=True)

    check_in_and_out(page, first)
    page.wait_for_selector(f'li.m-stop[data-visit-id="{first}"] .m-evv[data-outcome="verified"]')
    assert card(page, first).get_attribute("data-status") == "verified"
    page.screenshot(path=str(SHOTS / "mobile-2-verified.png"), full_page=True)

    # The dispatcher's view of the visit (API) and the board's data agree.
    desk = _context(browser)
    office = desk.new_page()
    log_in(office, live_server, setup["dispatcher"])
    evv = office.request.get(f"{live_server.url}/api/v1/evv/visits/{first}").json()
    assert evv["status"] == "verified"
    assert [r["outcome"] for r in evv["records"]] == ["verified"]
    assert evv["records"][0]["check_in_distance_m"] < 50
    day = office.request.get(
        f"{live_server.url}/api/v1/dispatch/days/{setup['today'].isoformat()}"
    ).json()
    status = {v["id"]: v["status"] for v in day["visits"]}
    assert status.get(first) == "verified"

    # Offline, 2 km away: kept in the outbox, sent when back online, then an exception.
    lat, lon = setup["homes"][1]
    context.set_geolocation({"latitude": lat + 0.018, "longitude": lon, "accuracy": 12})
    context.set_offline(True)
    card(page, second).locator(".m-checkin").click()
    page.wait_for_selector("#m-outbox:not([hidden])")
    assert card(page, second).get_attribute("data-status") == "in_progress"
    page.screenshot(path=str(SHOTS / "mobile-3-offline.png"), full_page=True)
    context.set_offline(False)
    page.wait_for_selector("#m-outbox[hidden]", state="attached")
    stop = card(page, second)
    for box in stop.locator('input[name="item"]').all():
        box.check()
    stop.locator(".m-checkout").click()
    page.wait_for_selector(f'li.m-stop[data-visit-id="{second}"] .m-evv[data-outcome="exception"]')
    page.wait_for_selector(f'li.m-stop[data-visit-id="{second}"] .m-checkout', state="detached")
    page.screenshot(path=str(SHOTS / "mobile-4-exception.png"), full_page=True)

    office.goto(f"{live_server.url}/dispatch/exceptions")
    item = office.locator(f'article.exception[data-visit-id="{second}"]')
    assert item.count() == 1
    assert item.locator('[data-reason="outside_geofence"]').count() == 1
    office.screenshot(path=str(SHOTS / "mobile-5-queue.png"), full_page=True)

    # Logging out clears the phone's storage.
    assert page.evaluate("Object.keys(localStorage).some(k => k.startsWith('careroute.'))")
    page.click("#m-logout button")
    page.wait_for_url(f"{live_server.url}/auth/login*")
    assert not page.evaluate("Object.keys(localStorage).some(k => k.startsWith('careroute.'))")
    desk.close()
