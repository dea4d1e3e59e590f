"""The one error shape for every failure under /api, and pagination limits."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.api.errors import field_path
from app.models import InsuredPerson
from app.services import persons as person_service
from tests.app.api.conftest import Api, World, count, person_body

SHAPE = {"code", "message", "errors"}


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("name",), "name"),
        (("items", 0, "windows", 1), "items[0].windows[1]"),
        (("items", 2, "windows", 0, 1), "items[2].windows[0][1]"),
        (("availability", "mon", 0), "availability.mon[0]"),
        ((), "body"),
    ],
)
def test_field_paths_are_dotted_and_indexed(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/api/v1/persons"), ("POST", "/api/v1/plans"), ("GET", "/api/v1/visits/1")],
)
def test_anonymous_calls_get_401_in_json(api: Api, method: str, url: str) -> None:
    response = api.call(None, method, url, json={})

    assert response.status_code == 401
    assert response.is_json
    assert set(response.json) == SHAPE
    assert response.json["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("who", "method", "url"),
    [
        ("caregiver", "POST", "/api/v1/persons"),
        ("dispatcher", "POST", "/api/v1/agencies"),
        ("dispatcher", "POST", "/api/v1/service-items"),
        ("volunteer", "GET", "/api/v1/plans"),
        ("caregiver", "GET", "/api/v1/caregivers"),
    ],
)
def test_a_role_not_allowed_gets_403_in_json(api: Api, who: str, method: str, url: str) -> None:
    response = api.call(who, method, url, json={})

    assert response.status_code == 403
    assert set(response.json) == SHAPE
    assert response.json["code"] == "forbidden"


def test_an_unknown_api_url_is_404_in_json(api: Api) -> None:
    for url in ("/api/v1/nothing-here", "/api/v2/persons", "/api/v1/persons/not-a-number"):
        response = api.get("dispatcher", url)
        assert response.status_code == 404, url
        assert response.is_json
        assert response.json["code"] == "not_found"


def test_a_wrong_method_is_405_in_json_with_allow(api: Api, api_world: World) -> None:
    response = api.call("dispatcher", "DELETE", f"/api/v1/persons/{api_world.a1.id}")

    assert response.status_code == 405
    assert response.json["code"] == "method_not_allowed"
    assert {"GET", "PATCH"} <= set(response.headers["Allow"].split(", "))


def test_an_unexpected_error_is_500_without_internals(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret database password in a stack trace")

    monkeypatch.setattr(person_service, "list_persons", explode)

    response = api.get("dispatcher", "/api/v1/persons")

    assert response.status_code == 500
    assert response.json["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)


def test_a_duplicate_id_number_is_409_naming_the_field(
    api: Api, api_world: World, session: Session
) -> None:
    taken = api_world.b1.id_number  # registered by the other agency
    body = person_body(id_number=taken, birth_date=api_world.b1.birth_date.isoformat())
    before = count(session, InsuredPerson)

    response = api.post("dispatcher", "/api/v1/persons", body)

    assert response.status_code == 409
    assert response.json["code"] == "conflict"
    assert "id_number" in response.json["errors"]
    assert count(session, InsuredPerson) == before


def test_a_unique_constraint_caught_only_by_the_database_is_409(
    api: Api, api_world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if a concurrent request had inserted the same ID number after our check.
    monkeypatch.setattr(person_service, "ensure_unique", lambda *a, **k: None)
    body = person_body(
        id_number=api_world.a1.id_number, birth_date=api_world.a1.birth_date.isoformat()
    )
    before = count(session, InsuredPerson)

    response = api.post("dispatcher", "/api/v1/persons", body)

    assert response.status_code == 409
    assert response.json["errors"] == {"id_number": response.json["errors"]["id_number"]}
    assert count(session, InsuredPerson) == before
    # The session is usable again after the rollback.
    assert api.get("dispatcher", "/api/v1/persons").status_code == 200


def test_messages_follow_the_language(api: Api) -> None:
    english = api.call(None, "GET", "/api/v1/persons", headers={"Accept-Language": "en"})
    chinese = api.call(None, "GET", "/api/v1/persons", headers={"Accept-Language": "zh-CN"})

    assert english.json["code"] == chinese.json["code"] == "unauthorized"
    assert english.json["message"] == "Please log in."


# --- pagination --------------------------------------------------------------------------


@pytest.fixture
def many_items(session: Session, api_world: World) -> int:
    from app.models import ServiceItem

    for i in range(7):
        session.add(
            ServiceItem(
                code=f"X{i:02d}",
                name_zh=f"项目{i}",
                name_en=f"Item {i}",
                category="household",
                standard_min=30,
                required_skill="household",
                price_fen=1000,
            )
        )
    session.commit()
    return count(session, ServiceItem)


def test_pages_cover_the_list_once(api: Api, many_items: int) -> None:
    seen: list[int] = []
    page = 1
    while True:
        body = api.get("dispatcher", "/api/v1/service-items", page=page, per_page=4).json
        assert body["total"] == many_items
        assert body["per_page"] == 4
        assert body["pages"] == -(-many_items // 4)
        seen += [row["id"] for row in body["items"]]
        if page >= body["pages"]:
            break
        page += 1

    assert len(seen) == len(set(seen)) == many_items
    beyond = api.get("dispatcher", "/api/v1/service-items", page=page + 1, per_page=4).json
    assert beyond["items"] == []
    assert beyond["total"] == many_items


def test_page_size_is_capped_and_defaulted(api: Api, many_items: int) -> None:
    capped = api.get("dispatcher", "/api/v1/service-items", per_page=10_000).json
    default = api.get("dispatcher", "/api/v1/service-items").json

    assert capped["per_page"] == 200
    assert default["per_page"] == 50
    assert len(default["items"]) == many_items


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"status": "sleeping"}, "status"),
        ({"date": "tomorrow"}, "date"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_query_parameters_are_named(api: Api, query: dict[str, object], field: str) -> None:
    response = api.get("dispatcher", "/api/v1/visits", **query)

    assert response.status_code == 400
    assert field in response.json["errors"]
