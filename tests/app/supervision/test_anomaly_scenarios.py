"""A seeded month of one demo agency with every fraud pattern injected, read back through
the anomaly service: each injected pattern is found with the visits behind it, and
nothing at all is flagged in the honest part (the full set of findings is the expected
set).

The month is simulated once for the module and everything the tests check is read out
right away, because the suite empties every table after each test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Agency, Role, User
from app.services import anomalies
from app.services.anomaly_rules import RULE_CODES, Finding, Subject
from app.services.demo import load_demo
from app.services.demo_month import MonthManifest, simulate_month

TODAY = dt.date(2026, 10, 20)
MONTH = dt.date(2026, 9, 1)
SEED = 3


@dataclass(frozen=True)
class Scenario:
    manifest: MonthManifest
    findings: list[Finding]
    explanations: list[str]
    admin_findings: list[Finding]
    other_agency_id: int
    counts: dict[int, int]


@pytest.fixture(scope="module")
def scenario(app: Flask) -> Scenario:
    session = db.session
    load_demo(session, seed=1, today=TODAY)
    agencies = list(session.scalars(select(Agency).order_by(Agency.id)))
    manifest = simulate_month(session, month=MONTH, seed=SEED, agency_ids=[agencies[0].id])
    auditor = session.scalar(select(User).where(User.role == Role.AUDITOR))
    admin = session.scalar(
        select(User).where(User.role == Role.AGENCY_ADMIN, User.agency_id == agencies[0].id)
    )
    assert auditor is not None
    assert admin is not None
    found = anomalies.findings(session, auditor, MONTH)
    names = anomalies.subject_names(session, found)
    return Scenario(
        manifest=manifest,
        findings=found,
        explanations=[anomalies.explain(f, names) for f in found],
        admin_findings=anomalies.findings(session, admin, MONTH),
        other_agency_id=agencies[1].id,
        counts=anomalies.count_by_agency(session, auditor, MONTH),
    )


def test_every_rule_was_injected_at_least_once(scenario: Scenario) -> None:
    assert set(scenario.manifest.injected) == set(RULE_CODES)
    assert {e.rule for e in scenario.manifest.expected} == set(RULE_CODES)
    assert scenario.manifest.visits > 2000
    assert scenario.manifest.verified > 0.85 * scenario.manifest.visits


def test_the_findings_are_exactly_the_injected_patterns(scenario: Scenario) -> None:
    found = {f.key for f in scenario.findings}
    expected = {e.key for e in scenario.manifest.expected}
    assert found - expected == set(), "flagged in the honest part"
    assert expected - found == set(), "injected but not found"
    assert len(scenario.findings) == len(RULE_CODES)


def test_each_finding_names_the_injected_visits(scenario: Scenario) -> None:
    by_rule = {f.rule: f for f in scenario.findings}
    for rule, injection in scenario.manifest.injected.items():
        finding = by_rule[rule]
        assert set(finding.visit_ids) <= set(injection.visit_ids), rule
        if rule != "cap_shift":  # the other ids after the cap: only its persons' visits
            assert finding.visit_ids == injection.visit_ids, rule


def test_no_finding_touches_the_clean_part(scenario: Scenario) -> None:
    tainted = set(scenario.manifest.tainted_workers)
    tainted |= {Subject("person", p) for p in scenario.manifest.tainted_persons}
    for f in scenario.findings:
        assert f.subject in tainted, f
        assert set(f.related) <= tainted, f


def test_findings_carry_numbers_and_an_explanation(scenario: Scenario) -> None:
    by_rule = {f.rule: f for f in scenario.findings}
    assert by_rule["outside_geofence"].numbers["check_in_m"] > 300
    assert by_rule["too_short"].numbers["pct"] < 50
    assert by_rule["too_long"].numbers["pct"] > 250
    assert by_rule["impossible_travel"].numbers["speed_kmh"] > 200
    assert by_rule["overlapping_visits"].numbers["overlap_min"] >= 10
    assert by_rule["shared_point"].numbers["workers"] == 3
    assert by_rule["cap_shift"].numbers["share_pct"] >= 60
    assert by_rule["qualification_expired"].numbers["skill"] == "nursing"
    assert all(text and "%(" not in text for text in scenario.explanations)


def test_agency_scope_and_counts(scenario: Scenario) -> None:
    injected_agency = scenario.manifest.injected_agency_id
    assert [f.key for f in scenario.admin_findings] == [f.key for f in scenario.findings]
    assert scenario.counts == {
        injected_agency: len(RULE_CODES),
        scenario.other_agency_id: 0,
        scenario.other_agency_id + 1: 0,
    }
