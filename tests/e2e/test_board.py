"""The dispatcher board in a real browser, against the real application.

A dispatcher of the demo city logs in, opens tomorrow's board, plans the day with a short
time limit and watches the progress, sees the routes and key figures, moves a visit (the
edit is checked and stored as a new version whose findings are shown), compares the two
versions, publishes a valid one and sees a caregiver's acknowledgement arrive live. Every
step asserts on what the page shows against what the API says.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Agency, User
from app.realtime import events
from tests.e2e.conftest import VIEWPORT, LiveServer

pytestmark = pytest.mark.e2e

PLAN_TIMEOUT_MS = 60_000
STEP_TIMEOUT_MS = 15_000
RECORD_PROGRESS = """() => {
  window.progressLines = [];
  const line = document.getElementById("job-text");
  new MutationObserver(() => window.progressLines.push(line.textContent))
    .observe(line, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("dialog", lambda dialog: dialog.accept())
    yield tab
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def log_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/auth/login")
    page.fill("#username", username)
    page.fill("#password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/home")


def api(page: Any, server: LiveServer, path: str) -> Any:
    """A GET with the page's login, as the board's script makes it."""
    response = page.request.get(f"{server.url}{path}")
    assert response.ok, f"GET {path}: {response.status} {response.text()}"
    return response.json()


def agency_id(server: LiveServer, code: str) -> int:
    with server.app.app_context():
        found = db.session.scalar(select(Agency.id).where(Agency.code == code))
        db.session.remove()
    assert found is not None
    return found


def caregiver_logins(server: LiveServer, code: str) -> dict[str, str]:
    """Caregiver ref -> username of the demo caregiver logins of an agency."""
    with server.app.app_context():
        rows = db.session.execute(
            select(User.username, User.caregiver_id).where(
                User.username.like(f"{code.lower()}.cg%"), User.caregiver_id.is_not(None)
            )
        ).all()
        db.session.remove()
    return {f"cg-{caregiver_id}": username for username, caregiver_id in rows}


def texts(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def wait_for_message(page: Any, text: str) -> str:
    """The board's status line once it says ``text`` (it is written after a redraw)."""
    page.wait_for_function(
        "(text) => document.getElementById('board-message').textContent.includes(text)", arg=text
    )
    return str(page.locator("#board-message").inner_text())


def version_options(page: Any) -> int:
    return page.locator("#version-select option").count()


def stops_of(plan: dict[str, Any]) -> dict[str, str]:
    """Visit ref -> the caregiver ref of its first stop."""
    where: dict[str, str] = {}
    for route in plan["routes"]:
        for stop in route["stops"]:
            where.setdefault(stop["visit_id"], route["caregiver_id"])
    return where


def test_dispatcher_plans_edits_compares_and_publishes_the_day(
    page: Any, live_server: LiveServer
) -> None:
    server = live_server
    day = server.day.isoformat()
    log_in(page, server, "yikang.dispatcher")

    # The empty day: a row per worker, nothing planned yet, nothing to publish.
    page.goto(f"{server.url}/dispatch/board?date={day}")
    page.wait_for_selector("#board[data-state=empty]")
    board = api(page, server, f"/api/v1/dispatch/days/{day}")
    assert page.locator("h1").inner_text().startswith("调度看板")
    assert page.locator(".tl__row[data-ref]").count() == len(board["caregivers"])
    assert texts(page, ".tl__row[data-ref] .tl__name")[0] == board["caregivers"][0]["name"]
    assert "还没有排班方案" in page.locator("#board-message").inner_text()
    assert page.locator("#publish").is_disabled()
    assert page.locator(".map__visit--open").count() > 0
    assert page.locator(".map__home").count() == len(board["caregivers"])

    # Plan the day with the shortest time limit; progress shows, then the plan.
    # (A short job may end before its progress can be seen: record every progress line.)
    page.evaluate(RECORD_PROGRESS)
    page.select_option("#time-limit", "5")
    page.click("#plan-day")
    page.wait_for_selector("#board[data-state=planned]", timeout=PLAN_TIMEOUT_MS)
    progress = page.evaluate("window.progressLines")
    assert progress, "no progress was shown"
    assert all("/ 5 秒" in line for line in progress), progress
    assert page.locator("#job").is_hidden()
    assert page.locator("#plan-day").is_enabled()
    wait_for_message(page, "排班完成")

    board = api(page, server, f"/api/v1/dispatch/days/{day}")
    first = api(page, server, f"/api/v1/dispatch/versions/{board['current_version_id']}")
    plan, kpis = first["plan"], first["plan"]["kpis"]
    routes = [r for r in plan["routes"] if r["stops"]]
    assert routes, "the optimiser placed no visit at all"
    assert page.locator(".tl__visit").count() == sum(len(r["stops"]) for r in routes)
    assert page.locator(".map__route").count() == len(routes)
    assert page.locator("[data-kpi=assigned] dd").inner_text() == (
        f"{kpis['assigned']} / {kpis['visits']}"
    )
    # The page formats with Intl.NumberFormat, which rounds the shortest decimal form of the
    # number half away from zero (26.15 -> 26.2); Python's format would round the binary value.
    travel_h = Decimal(repr(first["kpis_detail"]["travel_h"])).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    assert page.locator("[data-kpi=travel] dd").inner_text() == f"{travel_h} 小时"
    assert page.locator(".bars__row").count() == len(first["kpis_detail"]["work_min_by_caregiver"])
    assert page.locator("#unassigned .vlist__item").count() == len(plan["unassigned"]) + sum(
        1 for v in board["visits"] if v["over_cap"]
    )
    assert version_options(page) == 1
    assert page.locator("#version-state").inner_text() == (
        "校验通过" if first["valid"] else "有问题"
    )
    assert page.locator("#publish").is_enabled() == first["valid"]

    # Select a visit and move it to another caregiver who has a route: checked, new version.
    source, target = routes[0], routes[1]
    visit_ref = source["stops"][-1]["visit_id"]
    visit = next(v for v in board["visits"] if v["ref"] == visit_ref)
    page.click(f".tl__row[data-ref='{source['caregiver_id']}'] .tl__visit[data-ref='{visit_ref}']")
    assert visit["person_name"] in page.locator("#visit-detail").inner_text()
    assert page.locator(f".map__visit[data-ref='{visit_ref}']").count() == 1
    page.select_option("#move-caregiver", target["caregiver_id"])
    page.click("#move-submit")
    page.wait_for_function("document.querySelectorAll('#version-select option').length === 2")
    board = api(page, server, f"/api/v1/dispatch/days/{day}")
    second = api(page, server, f"/api/v1/dispatch/versions/{board['current_version_id']}")
    assert second["kind"] == "edit"
    assert stops_of(second["plan"]).get(visit_ref) == target["caregiver_id"]
    moved_block = (
        f".tl__row[data-ref='{target['caregiver_id']}'] .tl__visit[data-ref='{visit_ref}']"
    )
    page.wait_for_selector(moved_block)
    message = wait_for_message(page, f"第 {second['number']} 版")
    if second["valid"]:
        assert page.locator("#checks .checks__ok").inner_text() == "没有问题：所有规则均满足。"
    else:
        assert page.locator("#checks .checks__item").count() == len(second["violations"])
        assert f"{len(second['violations'])} 个问题" in message
        assert page.locator("#publish").is_disabled()

    # Compare the two versions: the moved visit is listed and highlighted.
    page.select_option("#compare-a", str(first["id"]))
    page.select_option("#compare-b", str(second["id"]))
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector(f"#compare .vlist__item[data-ref='{visit_ref}']")
    assert page.locator(f".tl__visit--moved[data-ref='{visit_ref}']").count() >= 1
    assert "次服务有调整" in page.locator("#compare").inner_text()

    # Publish a valid version (the edit if it kept every rule, else the optimised one).
    chosen = second if second["valid"] else first
    if chosen is first:
        page.select_option("#version-select", str(first["id"]))
        page.wait_for_function(
            "document.getElementById('version-state').textContent === '校验通过'"
        )
    assert chosen["valid"], "the optimiser's own plan must pass the checker"
    page.click("#publish")
    page.wait_for_function("document.getElementById('version-state').textContent === '已发布'")
    wait_for_message(page, f"第 {chosen['number']} 版已发布")
    board = api(page, server, f"/api/v1/dispatch/days/{day}")
    assert board["published_version_id"] == chosen["id"]
    assert board["acks"], "a first publication notifies every caregiver with a route"
    assert page.locator(".tl__ack--waiting, .tl__ack--overdue").count() == len(board["acks"])
    assert page.locator("#publish").is_disabled()

    # A caregiver acknowledges on their phone; the board shows it without a reload.
    logins = caregiver_logins(server, "YIKANG")
    notice = next((a for a in board["acks"] if a["caregiver_ref"] in logins), None)
    assert notice is not None, f"none of the demo caregivers {sorted(logins)} has a route"
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    try:
        their = phone.new_page()
        log_in(their, server, logins[notice["caregiver_ref"]])
        answer = their.request.post(
            f"{server.url}/api/v1/my/notices/{notice['notice_id']}/ack", data={}
        )
        assert answer.ok, answer.text()
    finally:
        phone.close()
    ack_cell = f".tl__row[data-ref='{notice['caregiver_ref']}'] .tl__ack--done"
    page.wait_for_selector(ack_cell)
    assert page.locator(ack_cell).inner_text().startswith("✓")

    # A check-in elsewhere reaches the board as a visit_status event: the block turns "started".
    started = stops_of(chosen["plan"])
    started_ref, started_by = next(iter(started.items()))
    events.emit(
        "visit_status",
        f"board:{board['agency']['id']}:{day}",
        {
            "visit_id": int(started_ref[2:]),
            "visit_ref": started_ref,
            "status": "in_progress",
            "worker_ref": started_by,
            "evv": None,
            "at": None,
        },
    )
    page.wait_for_selector(
        f".tl__row[data-ref='{started_by}'] .tl__visit--done[data-ref='{started_ref}']"
    )


def test_auditor_reads_any_agency_board_in_english_without_controls(
    page: Any, live_server: LiveServer
) -> None:
    server = live_server
    day = server.day.isoformat()
    log_in(page, server, "auditor")
    page.goto(f"{server.url}/lang/en")
    anran = agency_id(server, "ANRAN")
    page.goto(f"{server.url}/dispatch/board?date={day}&agency_id={anran}")
    page.wait_for_selector("#board[data-state]:not([data-state=loading])")
    board = api(page, server, f"/api/v1/dispatch/days/{day}?agency_id={anran}")
    assert page.locator("h1").inner_text().startswith("Dispatch board")
    assert page.locator("#agency-select").input_value() == str(anran)
    assert page.locator(".tl__row[data-ref]").count() == len(board["caregivers"])
    assert page.locator("text=Read only").count() == 1
    for control in ("#plan-day", "#publish", "#move-form", "#absent-form", "#urgent-form"):
        assert page.locator(control).count() == 0, control
    assert page.locator("#timeline-title").inner_text() == "Routes of the day"
    assert page.locator(".map__tiles").count() == 0  # no tile server by default


def test_map_tiles_follow_the_configured_url_template(page: Any, live_server: LiveServer) -> None:
    server = live_server
    # Any local image will do as a "tile": only the requested tile addresses matter here.
    server.app.config["BOARD_TILE_URL"] = "/static/img/logo.svg?z={z}&x={x}&y={y}"
    try:
        log_in(page, server, "yikang.dispatcher")
        page.goto(f"{server.url}/dispatch/board?date={server.day.isoformat()}")
        page.wait_for_selector(".map__tiles image")
    finally:
        server.app.config.pop("BOARD_TILE_URL")
    hrefs = page.eval_on_selector_all(
        ".map__tiles image", "images => images.map((i) => i.getAttribute('href'))"
    )
    tiles = [tuple(int(n) for n in re.findall(r"\d+", href)) for href in hrefs]
    zooms = {z for z, _x, _y in tiles}
    assert len(zooms) == 1
    zoom = zooms.pop()
    assert 10 <= zoom <= 15  # a city's width in 440 pixels
    # Tiles cover the demo city (Nantong, about 32.0 N 120.9 E) and are contiguous.
    n = 2**zoom
    xs = sorted({x for _z, x, _y in tiles})
    ys = sorted({y for _z, _x, y in tiles})
    assert xs == list(range(xs[0], xs[-1] + 1))
    assert ys == list(range(ys[0], ys[-1] + 1))
    assert len(tiles) == len(xs) * len(ys)
    assert xs[0] <= int((120.86 + 180) / 360 * n) <= xs[-1]
    lat = math.radians(32.0)
    assert ys[0] <= int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n) <= ys[-1]
