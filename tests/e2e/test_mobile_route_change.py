"""A route change reaches the caregiver's phone live, and the acknowledgement is recorded
on the server; a phone that was offline resyncs from the REST API when it reconnects.

In a real browser at a phone's size (390x844), against the real application. The
caregiver's route is published as a dispatcher publishes a plan (``tests.e2e.test_mobile``
explains how): first two visits, acknowledged before the phone opens. With the phone's
route page open and its Socket.IO connection in the caregiver's room, the dispatcher
publishes a third visit: the banner appears and the new stop is shown, without a reload,
and 'acknowledge' stamps the notice on the server. Then the phone goes offline, the
dispatcher takes a visit off the route, and when the phone is back online it reads the
route again: the stop is gone and the open notice shows.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.extensions import db, socketio
from app.models import RouteNotice, utcnow
from app.services import dispatch_publish
from tests.e2e.conftest import LiveServer
from tests.e2e.test_mobile import (
    RouteDay,
    card,
    choose_day,
    log_in,
    mark_page,
    open_route,
    phone_context,
    publish_route,
    still_marked,
    watch_errors,
)

pytestmark = pytest.mark.e2e

JOIN_TIMEOUT_S = 15.0
ROUTE_API = "/api/v1/my/days/"


@pytest.fixture(scope="module")
def day(live_server: LiveServer) -> RouteDay:
    chosen = choose_day(live_server, 3)
    first_two = list(chosen.visit_ids[:2])
    with live_server.app.app_context():
        s = db.session
        notice = publish_route(s, chosen, first_two)
        # Seen already: the phone opens on a route with nothing to acknowledge.
        dispatch_publish.acknowledge(s, notice, chosen.caregiver_ref)
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


def publish(server: LiveServer, day: RouteDay, visit_ids: list[int]) -> int:
    """The dispatcher publishes the caregiver's route through ``visit_ids``; the notice id."""
    with server.app.app_context():
        notice = publish_route(db.session, day, visit_ids)
        notice_id = notice.id
        db.session.remove()
    return notice_id


def acknowledged_at(server: LiveServer, notice_id: int) -> dt.datetime | None:
    with server.app.app_context():
        notice = db.session.get(RouteNotice, notice_id)
        assert notice is not None
        at = notice.acknowledged_at
        db.session.remove()
    return at


def wait_for_room(room: str) -> None:
    """Until a client has joined ``room`` on the live server (the phone's socket)."""
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    while not list(socketio.server.manager.get_participants("/", room)):
        assert time.monotonic() < deadline, f"nobody joined {room}"
        time.sleep(0.05)


def route_read(response: Any) -> bool:
    return ROUTE_API in response.url and response.url.endswith("/route") and response.ok


def test_route_change_shows_a_banner_whose_ack_is_recorded_and_a_reconnect_resyncs(
    live_server: LiveServer, day: RouteDay, phone: tuple[Any, Any]
) -> None:
    context, page = phone
    a, b, c = day.visit_ids
    log_in(page, live_server, day.username)
    open_route(page, live_server)
    assert card(page, a).count() == 1
    assert card(page, b).count() == 1
    assert card(page, c).count() == 0
    assert page.locator("#m-banner").is_hidden()
    wait_for_room(f"caregiver:{day.caregiver_id}")
    mark_page(page)

    # The dispatcher adds a visit and publishes: a live notice, a banner, the new stop.
    before = utcnow()
    changed = publish(live_server, day, [a, b, c])
    page.wait_for_selector("#m-banner:not([hidden])")
    card(page, c).wait_for()
    assert page.locator("#m-banner-text").inner_text().strip()
    assert still_marked(page), "the phone page was reloaded"
    assert acknowledged_at(live_server, changed) is None

    page.click("#m-ack")
    page.wait_for_selector("#m-banner", state="hidden")
    stamped = acknowledged_at(live_server, changed)
    assert stamped is not None
    assert before <= stamped <= utcnow()

    # Offline, the dispatcher takes a visit off the route; back online, the phone reads
    # the route again from the API: the stop is gone and the new notice waits.
    context.set_offline(True)
    page.wait_for_selector('#m-net[data-online="false"]')
    removed = publish(live_server, day, [a, c])
    with page.expect_response(route_read) as answer:
        context.set_offline(False)
    assert answer.value.ok
    card(page, b).wait_for(state="detached")
    assert card(page, a).count() == 1
    assert card(page, c).count() == 1
    page.wait_for_selector("#m-banner:not([hidden])")
    assert still_marked(page), "the phone page was reloaded"
    assert acknowledged_at(live_server, removed) is None

    page.click("#m-ack")
    page.wait_for_selector("#m-banner", state="hidden")
    assert acknowledged_at(live_server, removed) is not None
    # The first change's acknowledgement stands as it was.
    assert acknowledged_at(live_server, changed) == stamped
