"""The caregiver app in a real browser at a phone's size (390x844), against the real
application, with the dispatcher's board open beside it on a desktop: log in, see today's
route as published, check in with the phone's position at the person's home, tick the
items, check out — the visit's block on the board page turns verified, live, without a
reload. A second visit is checked in offline (kept in the outbox, sent when back online)
2 km from the home; it lands in the dispatcher's exception queue.

Today's route is published the way a dispatcher's plan is: the day's problem for one demo
caregiver (who has a login) and a few of today's visits, solved with fixed limits and a
seed, stored as a plan version and published. The visits' windows are first opened to the
caregiver's shift, so that the plan does not depend on the weekday's visits, and after
publishing set around the current time, so that the check-ins fall in them. The
minimum-duration rule is turned off for the live server (``EVV_MIN_DURATION_PCT = 0``):
the test cannot wait for a 45-minute visit. Every other rule applies as configured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    Caregiver,
    InsuredPerson,
    PlanItem,
    PlanVersion,
    RouteNotice,
    User,
    Visit,
)
from app.services import dispatch_publish
from app.services import dispatch_versions as versions
from app.services.dayproblem import build_day_problem, caregiver_ref, visit_ref
from app.services.visits import generate_visits, item_days
from scheduling import DayProblem, SolveParams, solve
from tests.e2e.conftest import VIEWPORT, LiveServer

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
STEP_TIMEOUT_MS = 15_000
TZ = ZoneInfo("Asia/Shanghai")
MONDAY = 1  # ISO weekday
SHOTS = Path(os.environ.get("CAREROUTE_SCREENSHOTS", "/tmp/careroute-shots"))
# Small, fixed and seeded: the same visits give the same route.
SOLVE = SolveParams(time_limit_s=5.0, seed=1, solution_limit=20)


# --- the day: a caregiver with a login, visits, a published route ------------------------


@dataclass(frozen=True)
class RouteDay:
    """Today's published route of one demo caregiver, and who dispatches it."""

    today: dt.date
    agency_id: int
    username: str
    caregiver_id: int
    dispatcher: str
    dispatcher_id: int
    visit_ids: tuple[int, ...]  # the chosen visits, in id order (not all published yet)
    homes: tuple[tuple[float, float], ...]

    @property
    def caregiver_ref(self) -> str:
        return caregiver_ref(self.caregiver_id)


def window_around_now() -> list[list[str]]:
    now = dt.datetime.now(TZ)
    start = max(now - dt.timedelta(hours=1), now.replace(hour=0, minute=0))
    end = min(now + dt.timedelta(hours=1), now.replace(hour=23, minute=59))
    return [[start.strftime("%H:%M"), end.strftime("%H:%M")]]


def _servable(problem: DayProblem, ref: str) -> list[int]:
    """Ids of the day's one-person visits that caregiver ``ref`` may serve, one per
    person (so that two of them are two places), in id order."""
    worker = problem.caregiver(ref)
    seen: set[str] = set()
    out: list[int] = []
    for task in sorted(problem.visits, key=lambda t: int(t.id[2:])):
        fits = task.staff == 1 and task.skills <= worker.skills
        fits = fits and task.gender in (None, worker.gender) and ref not in task.excluded_caregivers
        if fits and task.client_id not in seen:
            seen.add(task.client_id)
            out.append(int(task.id[2:]))
    return out


def _make_visits_due(session: Session, today: dt.date) -> None:
    """Generate today's visits; on a weekday no demo plan covers (Sunday), first add it.

    Check-in is verified against today's date, so the route must be today's. The demo's
    plans are weekday plans while its caregivers work every day: giving today the plan
    items due on Mondays gives the caregivers a Monday's visits.
    """
    result = generate_visits(session, today)
    if result.created + result.updated + result.unchanged:
        return
    for item in session.scalars(select(PlanItem)):
        days = item_days(item)
        if MONDAY in days:
            item.weekdays = sorted({*days, today.isoweekday()})
            item.times_per_week = None
    session.flush()
    generate_visits(session, today)


def choose_day(server: LiveServer, n_visits: int) -> RouteDay:
    """The first demo caregiver login (by username) at work today with ``n_visits``
    visits they may serve; those visits' windows opened to the caregiver's shift."""
    with server.app.app_context():
        s = db.session
        today = dt.datetime.now(TZ).date()
        _make_visits_due(s, today)
        logins = s.scalars(
            select(User).where(User.caregiver_id.is_not(None)).order_by(User.username)
        ).all()
        for u in logins:
            cg = s.get(Caregiver, u.caregiver_id)
            assert cg is not None
            problem = build_day_problem(s, cg.agency_id, today).problem
            if caregiver_ref(cg.id) not in {c.id for c in problem.caregivers}:
                continue  # away today
            ids = _servable(problem, caregiver_ref(cg.id))[:n_visits]
            if len(ids) == n_visits:
                break
        else:
            pytest.fail(f"no demo caregiver login has {n_visits} visits to serve today")
        shift = [[cg.shift_start.strftime("%H:%M"), cg.shift_end.strftime("%H:%M")]]
        visits = [s.get(Visit, i) for i in ids]
        for v in visits:
            assert v is not None
            v.windows = shift
        dispatcher = s.scalar(
            select(User)
            .where(User.role == "dispatcher", User.agency_id == cg.agency_id)
            .order_by(User.username)
            .limit(1)
        )
        assert dispatcher is not None
        s.commit()
        persons = [s.get(InsuredPerson, v.person_id) for v in visits if v is not None]
        homes = tuple((p.lat, p.lon) for p in persons if p is not None)
        day = RouteDay(
            today=today,
            agency_id=cg.agency_id,
            username=u.username,
            caregiver_id=cg.id,
            dispatcher=dispatcher.username,
            dispatcher_id=dispatcher.id,
            visit_ids=tuple(ids),
            homes=homes,
        )
        db.session.remove()
    return day


def publish_route(session: Session, day: RouteDay, visit_ids: list[int]) -> RouteNotice:
    """Plan the caregiver's route through ``visit_ids`` as the optimiser plans a day,
    store it as the day's next version and publish it, as a dispatcher does; commits.

    Returns the caregiver's notice of the publication (each publication here changes
    the route). Fails if the plan leaves any of the visits out.
    """
    ref, wanted = day.caregiver_ref, {visit_ref(i) for i in visit_ids}
    full = build_day_problem(session, day.agency_id, day.today).problem
    problem = dataclasses.replace(
        full,
        caregivers=(full.caregiver(ref),),
        visits=tuple(
            dataclasses.replace(v, preferred_caregivers=()) for v in full.visits if v.id in wanted
        ),
        locks=(),
    )
    plan = solve(problem, SOLVE)
    placed = {s.visit_id for r in plan.routes for s in r.stops}
    assert placed == wanted, f"the plan left out {sorted(wanted - placed)}: {plan.unassigned}"
    version = versions.store(
        session,
        day.agency_id,
        day.today,
        "optimise",
        problem,
        plan,
        note="e2e: the caregiver's route",
        created_by_id=day.dispatcher_id,
    )
    assert version.valid, version.violations
    published = dispatch_publish.publish(session, version, day.dispatcher_id)
    assert published.notified == (ref,)
    notice = session.scalar(
        select(RouteNotice).where(
            RouteNotice.publication_id == published.publication.id,
            RouteNotice.caregiver_id == day.caregiver_id,
        )
    )
    assert notice is not None
    return notice


def published_version(session: Session, day: RouteDay) -> PlanVersion:
    version = versions.latest(session, day.agency_id, day.today)
    assert version is not None
    return version


# --- browser helpers ---------------------------------------------------------------------


def phone_context(browser: Any, where: tuple[float, float]) -> Any:
    context = browser.new_context(
        viewport=PHONE,
        locale="zh-CN",
        geolocation={"latitude": where[0], "longitude": where[1], "accuracy": 12},
        permissions=["geolocation"],
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


def desk_context(browser: Any) -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


def watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def log_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/auth/login")
    page.fill("#username", username)
    page.fill("#password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/home")


def open_route(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/m/")
    page.wait_for_selector('#m-stops[data-state="ready"]')


def card(page: Any, visit_id: int) -> Any:
    return page.locator(f'li.m-stop[data-visit-id="{visit_id}"]')


def mark_page(page: Any) -> None:
    """Leave a mark in the page's window: a reload or navigation would lose it."""
    page.evaluate("window.__e2eMark = 'not reloaded'")


def still_marked(page: Any) -> bool:
    return bool(page.evaluate("window.__e2eMark === 'not reloaded'"))


# --- the test ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def day(live_server: LiveServer) -> RouteDay:
    live_server.app.config["EVV_MIN_DURATION_PCT"] = 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    chosen = choose_day(live_server, 2)
    with live_server.app.app_context():
        s = db.session
        publish_route(s, chosen, list(chosen.visit_ids))
        for visit_id in chosen.visit_ids:
            visit = s.get(Visit, visit_id)
            assert visit is not None
            visit.windows = window_around_now()
        s.commit()
        db.session.remove()
    return chosen


@pytest.fixture
def phone(browser: Any, day: RouteDay) -> Iterator[tuple[Any, Any]]:
    context = phone_context(browser, day.homes[0])
    page = context.new_page()
    errors = watch_errors(page)
    yield context, page
    context.close()
    assert not errors, f"script errors on the phone: {errors}"


@pytest.fixture
def office(browser: Any) -> Iterator[Any]:
    context = desk_context(browser)
    page = context.new_page()
    errors = watch_errors(page)
    yield page
    context.close()
    assert not errors, f"script errors on the board: {errors}"


def block(visit_id: int) -> str:
    """The visit's block on the board's timeline."""
    return f'.tl__visit[data-ref="{visit_ref(visit_id)}"]'


def test_caregiver_checks_in_and_out_and_the_board_shows_the_visit_verified(
    live_server: LiveServer, day: RouteDay, phone: tuple[Any, Any], office: Any
) -> None:
    context, page = phone
    first, second = day.visit_ids

    # The dispatcher's board of today, live, with the published route's blocks.
    log_in(office, live_server, day.dispatcher)
    office.goto(f"{live_server.url}/dispatch/board?date={day.today.isoformat()}")
    office.wait_for_selector("#board[data-state=planned]")
    office.wait_for_selector("#live[data-live=on]")
    assert office.locator("#version-state").inner_text() == "已发布"
    row = f'.tl__row[data-ref="{day.caregiver_ref}"]'
    for visit_id in (first, second):
        status = office.locator(f"{row} {block(visit_id)}").get_attribute("data-status")
        assert status == "assigned"
    mark_page(office)

    # The phone: the route in the published order, with the planned start times.
    log_in(page, live_server, day.username)
    open_route(page, live_server)
    with live_server.app.app_context():
        plan = versions.plan_of(published_version(db.session, day))
        db.session.remove()
    stops = [s for r in plan.routes for s in r.stops]
    order = [int(s.visit_id[2:]) for s in stops]
    shown = page.locator("li.m-stop").evaluate_all("(cards) => cards.map((c) => c.dataset.visitId)")
    assert [int(v) for v in shown] == order
    start = f"{stops[0].start_s // 3600:02d}:{stops[0].start_s % 3600 // 60:02d}"
    assert start in card(page, order[0]).locator(".m-stop__when").inner_text()
    assert card(page, first).get_attribute("data-status") == "assigned"
    nav = card(page, first).locator(".m-nav a").first.get_attribute("href")
    assert nav.startswith("geo:")
    page.screenshot(path=str(SHOTS / "mobile-1-route.png"), full_page=True)

    # At the door: check in (the board's block follows), tick the items, check out.
    card(page, first).locator(".m-checkin").click()
    office.wait_for_selector(f'{row} {block(first)}[data-status="in_progress"]')
    page.wait_for_selector(f'li.m-stop[data-visit-id="{first}"] .m-checkout')
    stop = card(page, first)
    for box in stop.locator('input[name="item"]').all():
        box.check()
    stop.locator(".m-checkout").click()
    page.wait_for_selector(f'li.m-stop[data-visit-id="{first}"] .m-evv[data-outcome="verified"]')
    assert card(page, first).get_attribute("data-status") == "verified"
    page.screenshot(path=str(SHOTS / "mobile-2-verified.png"), full_page=True)

    # The board page shows it verified, live: same page, no reload.
    verified = office.locator(f'{row} {block(first)}[data-status="verified"]')
    verified.wait_for()
    assert "tl__visit--done" in (verified.get_attribute("class") or "")
    assert office.locator(f'{row} {block(second)}[data-status="assigned"]').count() == 1
    assert still_marked(office), "the board was reloaded"
    office.screenshot(path=str(SHOTS / "mobile-2-board-verified.png"), full_page=True)
    evv = office.request.get(f"{live_server.url}/api/v1/evv/visits/{first}").json()
    assert evv["status"] == "verified"
    assert [r["outcome"] for r in evv["records"]] == ["verified"]
    assert evv["records"][0]["check_in_distance_m"] < 50

    # Offline, 2 km away: kept in the outbox, sent when back online, then an exception.
    lat, lon = day.homes[1]
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
    # An exception is not verified: the block says completed (waiting for a decision).
    office.wait_for_selector(f'{row} {block(second)}[data-status="completed"]')
    assert still_marked(office), "the board was reloaded"

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


def test_the_phone_stores_nothing_once_logged_out(live_server: LiveServer, browser: Any) -> None:
    # A route fetch or an outbox answer can land after the logout form is sent and
    # before the login page replaces the app (seen once in CI): it must not write the
    # caregiver's data back.
    context = phone_context(browser, (32.0, 120.9))
    page = context.new_page()
    page.goto(f"{live_server.url}/auth/login")
    counts = page.evaluate(
        """async () => {
            const store = await import("/static/js/mobile_store.js");
            const stored = () =>
                Object.keys(localStorage).filter((k) => k.startsWith("careroute."));
            store.saveRoute(7, "2026-11-27", { stops: [] });
            store.saveOutbox(7, [{ id: "a" }]);
            const before = stored().length;
            store.clearAll();
            store.saveRoute(7, "2026-11-27", { stops: [] });
            store.saveOutbox(7, [{ id: "b" }]);
            return [before, stored().length];
        }"""
    )
    context.close()
    assert counts == [2, 0]
