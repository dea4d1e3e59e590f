"""The supervision dashboard in a real browser, on a simulated month of the demo city.

The live server's demo city gets the previous calendar month of delivered care from the
month simulator (``simulate_month``: verified visits through the real EVV path, with
anomalies injected), and one published plan per agency on a day of that month, planned
the way a dispatcher plans (the day's visits, the solver, a stored version, published)
before the visits were made. An auditor opens /supervision for that month; every chart
must be drawn (its canvas not blank) with exactly the API's figures, the KPI tiles must
show the API's numbers, and the page must recover from a failed request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Agency, User
from app.services import anomalies, dispatch_publish, dispatch_versions, months
from app.services.dayproblem import build_day_problem
from app.services.demo_month import simulate_month
from app.services.visits import generate_visits
from scheduling import SolveParams, solve
from tests.e2e.conftest import VIEWPORT, LiveServer

pytestmark = pytest.mark.e2e

STEP_TIMEOUT_MS = 20_000
SEED = 7
PLAN_LIMIT_S = 2
SCREENSHOT = "/tmp/supervision.png"
CHARTS = ("fulfilment", "anomalies", "spending", "travel", "continuity")

# Non-blank: enough opaque pixels in the canvas (an empty chart still draws its axes, so
# the count is taken where the bars are: the plot area inside the axes).
OPAQUE_PIXELS = """(id) => {
  const chart = Chart.getChart(id);
  if (!chart) return 0;
  const area = chart.chartArea;
  const ratio = chart.currentDevicePixelRatio;
  const ctx = chart.canvas.getContext("2d");
  const x = Math.ceil(area.left * ratio) + 2, y = Math.ceil(area.top * ratio);
  const w = Math.floor((area.right - area.left) * ratio) - 4;
  const h = Math.floor((area.bottom - area.top) * ratio) - 2;
  const data = ctx.getImageData(x, y, w, h).data;
  let coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    // bars are saturated; grid lines and the white background are grey
    if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured += 1;
  }
  return coloured;
}"""


def previous_month(server: LiveServer) -> dt.date:
    return months.previous_month(server.today)


@pytest.fixture(scope="module")
def month(live_server: LiveServer) -> dt.date:
    """The simulated month, with one published plan per agency on its first Wednesday.

    The plans are made as a dispatcher makes them, from the day's open visits before they
    are worked (solver, stored version); they are published once the simulator has run,
    because publishing assigns the visits and the simulator staffs only unassigned ones.
    """
    first = previous_month(live_server)
    wednesday = first + dt.timedelta(days=(2 - first.weekday()) % 7)
    with live_server.app.app_context():
        session = db.session
        versions = []
        for agency_id in list(session.scalars(select(Agency.id).order_by(Agency.id))):
            generate_visits(session, wednesday, agency_id)
            problem = build_day_problem(session, agency_id, wednesday).problem
            plan = solve(problem, SolveParams(time_limit_s=PLAN_LIMIT_S, seed=SEED))
            versions.append(
                dispatch_versions.store(session, agency_id, wednesday, "optimise", problem, plan)
            )
        session.commit()
        simulate_month(session, month=first, seed=SEED)
        for version in versions:
            dispatch_publish.publish(session, version, None)
        db.session.remove()
    return first


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
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
    response = page.request.get(f"{server.url}{path}")
    assert response.ok, f"GET {path}: {response.status} {response.text()}"
    return response.json()


def datasets(page: Any, key: str) -> list[list[float | None]]:
    return page.evaluate(  # type: ignore[no-any-return]
        "(id) => Chart.getChart(id).data.datasets.map((d) => d.data)", f"chart-{key}"
    )


def labels(page: Any, key: str) -> list[str]:
    return page.evaluate("(id) => Chart.getChart(id).data.labels", f"chart-{key}")  # type: ignore[no-any-return]


def percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def close(actual: list[list[float | None]], expected: list[list[float | None]]) -> bool:
    return len(actual) == len(expected) and all(
        len(a) == len(e)
        and all(
            (x is None and y is None) or x == pytest.approx(y) for x, y in zip(a, e, strict=True)
        )
        for a, e in zip(actual, expected, strict=True)
    )


def intl(page: Any, value: float, options: dict[str, Any]) -> str:
    """``value`` formatted by the browser's Intl.NumberFormat for the page's language."""
    return page.evaluate(  # type: ignore[no-any-return]
        "([v, o]) => new Intl.NumberFormat('zh-CN', o).format(v)", [value, options]
    )


def test_the_auditor_sees_every_chart_drawn_with_the_api_figures(
    page: Any, live_server: LiveServer, month: dt.date
) -> None:
    server = live_server
    month_arg = month.strftime("%Y-%m")
    log_in(page, server, "auditor")
    page.click("#supervision-link")
    page.wait_for_url(f"{server.url}/supervision")
    page.goto(f"{server.url}/supervision?month={month_arg}")
    page.wait_for_selector("#supervision[data-state=ready]")
    data = api(page, server, f"/api/v1/supervision/kpis?month={month_arg}")

    # The simulated month is really there, and the anomaly detector found its injections.
    total = data["total"]
    assert len(data["agencies"]) == 3
    assert total["fulfilment"]["verified"] > 100
    assert total["anomalies"] > 0
    assert all(a["travel"]["days"] == 1 and a["travel"]["assigned"] > 0 for a in data["agencies"])
    assert data["spending"][-1]["fund_fen"] > 0
    with server.app.app_context():
        auditor = db.session.scalar(select(User).where(User.username == "auditor"))
        found = anomalies.count_by_agency(db.session, auditor, month)
        db.session.remove()
    assert {a["agency_id"]: a["anomalies"] for a in data["agencies"]} == {
        a["agency_id"]: found.get(a["agency_id"], 0) for a in data["agencies"]
    }

    # Every chart: drawn, and its datasets are the API's figures.
    names = [a["name"] for a in data["agencies"]]
    expected = {
        "fulfilment": [
            [percent(a["fulfilment"]["rate"]) for a in data["agencies"]],
            [percent(a["on_time"]["rate"]) for a in data["agencies"]],
        ],
        "anomalies": [[a["anomalies"] for a in data["agencies"]]],
        "spending": [
            [s["fund_fen"] / 100 for s in data["spending"]],
            [s["co_pay_fen"] / 100 for s in data["spending"]],
        ],
        "travel": [[a["travel"]["min_per_visit"] for a in data["agencies"]]],
        "continuity": [[percent(a["continuity"]["rate"]) for a in data["agencies"]]],
    }
    for key in CHARTS:
        page.wait_for_function(f"() => ({OPAQUE_PIXELS})('chart-{key}') > 500")
        assert close(datasets(page, key), expected[key]), key
        assert len(labels(page, key)) == (6 if key == "spending" else len(names)), key
    assert labels(page, "fulfilment") == names

    # The tiles show the API's totals, formatted for the page's language.
    pct = {"style": "percent", "minimumFractionDigits": 1, "maximumFractionDigits": 1}
    yuan = {"style": "currency", "currency": "CNY", "currencyDisplay": "narrowSymbol"}
    this_month = data["spending"][-1]
    tiles = {
        "fulfilment": (total["fulfilment"]["rate"], intl(page, total["fulfilment"]["rate"], pct)),
        "on_time": (total["on_time"]["rate"], intl(page, total["on_time"]["rate"], pct)),
        "continuity": (total["continuity"]["rate"], intl(page, total["continuity"]["rate"], pct)),
        "anomalies": (total["anomalies"], intl(page, total["anomalies"], {})),
        "fund": (this_month["fund_fen"], intl(page, this_month["fund_fen"] / 100, yuan)),
        "co_pay": (this_month["co_pay_fen"], intl(page, this_month["co_pay_fen"] / 100, yuan)),
    }
    for key, (raw, text) in tiles.items():
        value = page.locator(f".sv-tile[data-kpi={key}] dd")
        assert float(value.get_attribute("data-value")) == pytest.approx(raw), key
        assert value.inner_text().strip() == text, key
    travel = page.locator(".sv-tile[data-kpi=travel] dd")
    minutes = total["travel"]["min_per_visit"]
    assert float(travel.get_attribute("data-value")) == pytest.approx(minutes)
    assert intl(page, minutes, {"minimumFractionDigits": 1, "maximumFractionDigits": 1}) in (
        travel.inner_text()
    )

    # Each chart has its table: one row per agency and a total row.
    page.click("[data-chart=fulfilment] summary")
    rows = page.locator("#sv-fulfilment-table tbody tr")
    assert rows.count() == len(names)
    assert page.locator("#sv-fulfilment-table tfoot tr").count() == 1
    first_due = page.locator("#sv-fulfilment-table tbody tr").first.locator("td").first
    assert first_due.inner_text().replace(",", "") == str(data["agencies"][0]["fulfilment"]["due"])

    page.screenshot(path=SCREENSHOT, full_page=True)


def test_one_agency_and_a_failed_request(
    page: Any, live_server: LiveServer, month: dt.date
) -> None:
    server = live_server
    month_arg = month.strftime("%Y-%m")
    log_in(page, server, "auditor")
    agency = api(page, server, f"/api/v1/supervision/kpis?month={month_arg}")["agencies"][1]

    page.goto(f"{server.url}/supervision?month={month_arg}")
    page.wait_for_selector("#supervision[data-state=ready]")
    page.select_option("#sv-agency", str(agency["agency_id"]))
    page.click(".sv__pick button[type=submit]")
    page.wait_for_selector("#supervision[data-state=ready]")
    assert f"agency_id={agency['agency_id']}" in page.url
    assert labels(page, "fulfilment") == [agency["name"]]
    assert datasets(page, "anomalies") == [[agency["anomalies"]]]

    # The API fails: the error is shown with a retry, which works once the API answers.
    page.route("**/api/v1/supervision/kpis*", lambda route: route.fulfill(
        status=500, content_type="application/json",
        body='{"code": "internal_error", "message": "boom", "errors": {}}',
    ))  # fmt: skip
    page.reload()
    page.wait_for_selector("#supervision[data-state=error]")
    assert "boom" in page.locator("#sv-error-text").inner_text()
    assert page.locator("#sv-retry").is_visible()
    page.unroute("**/api/v1/supervision/kpis*")
    page.click("#sv-retry")
    page.wait_for_selector("#supervision[data-state=ready]")
    assert page.locator("#sv-error").is_hidden()
    assert labels(page, "fulfilment") == [agency["name"]]
