"""The time-bank pages: the volunteer's minutes in the mobile look, forms that give,
donate, redeem and cancel, the CSV download, and the admins' report and reversals."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import Role, User
from app.services import timebank as tb_service
from tests.app.timebank.conftest import TbWorld, verify_visit, volunteer_visit
from tests.conftest import login


def _client(app: Flask, session: Session, u: User) -> FlaskClient:
    client = app.test_client()
    login(client, session, u)
    return client


def _earn(session: Session, tb: TbWorld) -> None:
    visit = volunteer_visit(session, tb)
    visit.windows = [["09:00", "20:00"]]
    session.commit()
    verify_visit(session, tb.user, visit, "09:00", "11:30")  # 150 min


def test_the_volunteers_pages_show_minutes_in_chinese(
    app: Flask, session: Session, tb: TbWorld
) -> None:
    _earn(session, tb)
    client = _client(app, session, tb.user)
    home = client.get("/m/timebank/").get_data(as_text=True)
    assert 'data-figure="available">150' in home
    assert "可用" in home  # zh_Hans_CN by default
    statement = client.get("/m/timebank/statement").get_data(as_text=True)
    assert 'data-code="service_credit"' in statement
    assert "+150" in statement
    redeem = client.get("/m/timebank/redeem").get_data(as_text=True)
    assert "陪伴聊天" in redeem
    assert f'value="{tb.companion_item.id}"' in redeem
    give = client.get("/m/timebank/give").get_data(as_text=True)
    assert f'<option value="{tb.daughter_link.id}">李娜 (daughter)</option>' in give


def test_the_csv_download(app: Flask, session: Session, tb: TbWorld) -> None:
    _earn(session, tb)
    r = _client(app, session, tb.user).get("/m/timebank/statement.csv")
    assert r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith("attachment; filename=")
    assert r.data.startswith(b"\xef\xbb\xbf")
    assert ",150,0,150,0," in r.data.decode("utf-8")


def test_forms_give_donate_redeem_and_cancel(app: Flask, session: Session, tb: TbWorld) -> None:
    _earn(session, tb)
    client = _client(app, session, tb.user)
    form = {"to": str(tb.daughter_link.id), "amount_min": "30", "request_id": "form-0001"}
    assert client.post("/m/timebank/give", data=form).status_code == 302
    client.post("/m/timebank/give", data=form)  # the same form twice: one gift
    client.post("/m/timebank/give", data={"to": "pool", "amount_min": "20", "request_id": "form-2"})
    assert tb_service.my_balance(session, tb.user).balance_min == 100
    refused = client.post(
        "/m/timebank/give", data={"to": "pool", "amount_min": "999", "request_id": "form-3"}
    )
    assert refused.status_code == 302
    assert "可用分钟不足。" in client.get("/m/timebank/give").get_data(as_text=True)
    r = client.post(
        "/m/timebank/redeem",
        data={"plan_item_id": str(tb.companion_item.id), "date": tb.w.today.isoformat()},
    )
    assert r.status_code == 302
    assert tb_service.my_balance(session, tb.user).held_min == 60
    page = client.get("/m/timebank/redeem").get_data(as_text=True)
    assert "/cancel" in page
    visit_id = int(page.split("/m/timebank/redemptions/")[1].split("/")[0])
    client.post(f"/m/timebank/redemptions/{visit_id}/cancel")
    assert tb_service.my_balance(session, tb.user).held_min == 0


def test_admins_see_the_report_and_reverse_with_a_reason(
    app: Flask, session: Session, tb: TbWorld
) -> None:
    _earn(session, tb)
    auditor = _client(app, session, tb.w.users[Role.AUDITOR])
    page = auditor.get("/timebank/admin").get_data(as_text=True)
    assert 'data-figure="owed_min"><strong>150</strong>' in page
    assert 'id="tb-reverse"' not in page  # auditors read only
    admin = _client(app, session, tb.w.users[Role.AGENCY_ADMIN])
    statement = admin.get(f"/timebank/admin/volunteers/{tb.volunteer.id}").get_data(as_text=True)
    earn_id = tb_service.my_statement(session, tb.user).lines[0].transfer_id
    assert earn_id in statement
    r = admin.post(
        "/timebank/admin/corrections",
        data={
            "transfer_id": earn_id,
            "amount_min": "50",
            "reason": "visit was shorter",
            "volunteer_id": str(tb.volunteer.id),
        },
    )
    assert r.headers["Location"].endswith(f"/timebank/admin/volunteers/{tb.volunteer.id}")
    assert tb_service.my_balance(session, tb.user).balance_min == 100
    mine = _client(app, session, tb.user).get("/m/timebank/statement").get_data(as_text=True)
    assert "visit was shorter" in mine
