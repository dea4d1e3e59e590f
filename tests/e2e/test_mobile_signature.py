"""The family signs on the phone at check-out, and the server keeps the signature.

In a real browser at a phone's size (390x844, touch), against the real application with
``EVV_REQUIRE_CONFIRMATION`` on, so the visit is verified only if the signature is
accepted. The caregiver's route is published as a dispatcher publishes a plan
(``tests.e2e.test_mobile`` explains how). At check-out the caregiver picks 'signature':
a tap on the pad is refused on the phone (a dot is not a signature) and nothing is sent;
'clear' empties the pad; then one stroke drawn by touch and one with the mouse are
accepted, the visit shows verified, and the stored check-out holds the strokes as SVG
path data. Nothing of the signature is left in the browser's storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import EvvAction, Visit, VisitVerification
from app.services.evv_confirmation import MIN_SIGNATURE_POINTS, SIGNATURE_BOX, signature_points
from tests.e2e.conftest import LiveServer
from tests.e2e.test_mobile import (
    SHOTS,
    RouteDay,
    card,
    choose_day,
    log_in,
    open_route,
    phone_context,
    publish_route,
    watch_errors,
    window_around_now,
)
from tests.e2e.test_mobile_route_change import wait_for_room

pytestmark = pytest.mark.e2e

PAD = "canvas.m-sign__pad"


@pytest.fixture(scope="module")
def day(live_server: LiveServer) -> RouteDay:
    live_server.app.config["EVV_MIN_DURATION_PCT"] = 0  # the test cannot wait 45 minutes
    live_server.app.config["EVV_REQUIRE_CONFIRMATION"] = True
    SHOTS.mkdir(parents=True, exist_ok=True)
    chosen = choose_day(live_server, 1)
    with live_server.app.app_context():
        s = db.session
        publish_route(s, chosen, list(chosen.visit_ids))
        visit = s.get(Visit, chosen.visit_ids[0])
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


def pad_box(page: Any, visit_id: int) -> dict[str, float]:
    pad = card(page, visit_id).locator(PAD)
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    return box


def touch_stroke(cdp: Any, points: list[tuple[float, float]]) -> None:
    """A finger's stroke through ``points`` (CSS pixels of the viewport)."""
    x, y = points[0]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for x, y in points[1:]:
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def inked_pixels(page: Any, visit_id: int) -> int:
    return int(
        card(page, visit_id)
        .locator(PAD)
        .evaluate(
            "(c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
            ".filter((v, i) => i % 4 === 3 && v > 0).length"
        )
    )


def stored_check_outs(server: LiveServer, visit_id: int) -> list[EvvAction]:
    with server.app.app_context():
        rows = db.session.scalars(
            select(EvvAction).where(EvvAction.visit_id == visit_id, EvvAction.kind == "check_out")
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return list(rows)


def test_a_signature_drawn_by_touch_and_mouse_confirms_the_check_out(
    live_server: LiveServer, day: RouteDay, phone: tuple[Any, Any]
) -> None:
    context, page = phone
    (visit_id,) = day.visit_ids
    log_in(page, live_server, day.username)
    open_route(page, live_server)
    wait_for_room(f"caregiver:{day.caregiver_id}")
    card(page, visit_id).locator(".m-checkin").click()
    page.wait_for_selector(f'li.m-stop[data-visit-id="{visit_id}"] .m-checkout')
    # The route is read again after the check-in: let that re-render pass before signing.
    page.wait_for_load_state("networkidle")
    stop = card(page, visit_id)
    for box in stop.locator('input[name="item"]').all():
        box.check()
    stop.locator("select.m-confirm__method").select_option("signature")
    stop.locator("select.m-confirm__by").select_option("person")
    assert stop.locator(PAD).is_visible()
    assert stop.locator(".m-pin").is_hidden()

    # A tap is not a signature: refused on the phone, nothing sent; 'clear' empties the pad.
    cdp = context.new_cdp_session(page)
    box = pad_box(page, visit_id)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    touch_stroke(cdp, [(cx, cy)])
    assert inked_pixels(page, visit_id) > 0
    stop.locator(".m-checkout").click()
    too_small = page.evaluate(
        "JSON.parse(document.getElementById('m-strings-confirm').textContent).sign_too_small"
    )
    page.wait_for_function(
        "(text) => document.getElementById('m-toast').textContent === text", arg=too_small
    )
    assert stop.locator(".m-checkout").count() == 1
    assert stored_check_outs(live_server, visit_id) == []
    stop.locator(".m-sign__clear").click()
    assert inked_pixels(page, visit_id) == 0

    # A stroke with the finger, a second one with the mouse.
    box = pad_box(page, visit_id)
    left, top, w, h = box["x"], box["y"], box["width"], box["height"]
    wave = [(left + w * (0.08 + 0.04 * i), top + h * (0.7 - 0.4 * (i % 2))) for i in range(10)]
    touch_stroke(cdp, wave)
    page.mouse.move(left + w * 0.6, top + h * 0.8)
    page.mouse.down()
    page.mouse.move(left + w * 0.75, top + h * 0.2, steps=8)
    page.mouse.move(left + w * 0.9, top + h * 0.75, steps=8)
    page.mouse.up()
    assert inked_pixels(page, visit_id) > 0
    page.screenshot(path=str(SHOTS / "mobile-signature-1-signed.png"), full_page=True)

    stop.locator(".m-checkout").click()
    page.wait_for_selector(f'li.m-stop[data-visit-id="{visit_id}"] .m-evv[data-outcome="verified"]')
    page.wait_for_selector("#m-outbox[hidden]", state="attached")
    # The refusal of the tap is not left on screen as if it were about this check-out.
    sent = page.evaluate("JSON.parse(document.getElementById('m-strings').textContent).sent")
    page.wait_for_function(
        "(text) => document.getElementById('m-toast').textContent === text", arg=sent
    )
    page.screenshot(path=str(SHOTS / "mobile-signature-2-verified.png"), full_page=True)

    (out,) = stored_check_outs(live_server, visit_id)
    confirmation = out.confirmation
    assert confirmation is not None
    assert (confirmation["method"], confirmation["by"], confirmation["ok"]) == (
        "signature",
        "person",
        True,
    )
    assert confirmation["box"] == list(SIGNATURE_BOX)
    path = confirmation["path"]
    assert path.startswith("M")
    assert path.count("M") == 2  # two strokes
    points = signature_points(path)
    assert len(points) >= MIN_SIGNATURE_POINTS
    xs = [x for x, _ in points]
    # The strokes span the pad as drawn: the wave on the left, the mouse's on the right.
    assert min(xs) < SIGNATURE_BOX[0] * 0.2 < SIGNATURE_BOX[0] * 0.8 < max(xs)
    with live_server.app.app_context():
        record = db.session.scalar(
            select(VisitVerification).where(VisitVerification.check_out_action_id == out.id)
        )
        assert record is not None
        assert (record.outcome, record.reasons) == ("verified", [])
        assert record.confirmation == confirmation
        db.session.remove()

    # Sent and answered: nothing of the signature stays in the browser's storage.
    stored = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert path not in stored
    assert '\\"signature\\"' not in stored
