"""The demo city: a deterministic, Nantong-like LTCI home-care pilot.

``load_demo(session, seed)`` fills an empty database with three agencies in Nantong's urban
districts, 372 insured persons (each with an assessment and an approved care plan of 2-5
items), 51 caregivers, 15 time-bank volunteers and a login for every role (all with the
password ``DEMO_PASSWORD``), drawn from ``random.Random(seed)``: the same seed and day give
the same city. It is sized so that one agency's weekday has roughly 115-140 visits for 16-18
caregivers (about half their paid time in service before travel): tight but plannable.
About one person in six gets no visits on purpose: below the threshold grade, disabled
for under six months, an assessment that has lapsed, or suspended.

It refuses to load into a database that already holds data unless ``reset=True``, which
first deletes every row of every table (the schema and migrations are left alone).

Everything here is made up: names, ID numbers (valid check digits, random digits),
phones and addresses are generated, not real people's.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, inspect, null, select
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    Assessment,
    Base,
    Caregiver,
    CarePlan,
    Gender,
    InsuredPerson,
    PersonStatus,
    PlanItem,
    PlanStatus,
    Qualification,
    Role,
    ServiceItem,
    Skill,
    TravelMode,
    User,
    Volunteer,
    VolunteerRelative,
)
from app.policy import Dimension, Policy, ServiceItemSpec, load_policy, load_service_items
from app.services.assessments import add_months, grade_for
from app.services.auth import hash_password
from app.services.crud import local_today
from app.services.errors import Conflict
from app.services.visits import WEEKDAY_PATTERNS
from timebank.schema import accounts as tb_accounts

DEMO_PASSWORD = "careroute-demo"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CENTRE = (32.0, 120.86)  # Nantong city centre
MAX_RADIUS_KM = 12.0


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    agency_code: str | None


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` created."""

    seed: int
    today: dt.date
    agencies: tuple[str, ...]
    persons: int
    caregivers: int
    volunteers: int
    plans: int
    plan_items: int
    service_items: int
    logins: tuple[DemoLogin, ...]


# --------------------------------------------------------------------------- places and names


@dataclass(frozen=True)
class District:
    name: str  # as stored on persons and agencies
    area_code: str  # first six digits of ID numbers registered there
    centre: tuple[float, float]
    spread_km: float
    street_prefix: str  # how addresses name the district
    compounds: tuple[str, ...]


DISTRICTS = {
    d.name: d
    for d in (
        District(
            "崇川区",
            "320602",
            (32.012, 120.866),
            2.2,
            "南通市崇川区",
            (
                "文峰新村",
                "北濠新村",
                "虹桥新村",
                "八里庙新村",
                "学田新村",
                "城中花园",
                "钟秀花园",
                "桃坞路小区",
                "青年西路小区",
                "跃龙花园",
                "城山路小区",
                "濠西园",
            ),
        ),
        District(
            "崇川区(原港闸区)",
            "320611",
            (32.043, 120.818),
            2.2,
            "南通市崇川区",
            (
                "永兴新村",
                "长泰花园",
                "天生港新村",
                "闸西小区",
                "秦灶新村",
                "陈桥花苑",
                "唐闸古镇小区",
                "幸福新村",
                "港闸路小区",
            ),
        ),
        District(
            "开发区",
            "320602",
            (31.962, 120.903),
            2.0,
            "南通市经济技术开发区",
            (
                "星湖花园",
                "竹行新村",
                "新开花苑",
                "复兴小区",
                "通盛花园",
                "中央路小区",
                "小海新村",
                "能达花苑",
            ),
        ),
        District(
            "通州区",
            "320683",
            (32.056, 120.927),
            1.8,
            "南通市通州区",
            ("兴东花苑", "金桥新村", "兴仁小区", "平东花园", "兴石路小区", "东社新村"),
        ),
    )
}


@dataclass(frozen=True)
class AgencySpec:
    code: str
    name: str
    licence_no: str
    phone: str
    address: str
    districts: tuple[str, ...]  # districts served (the agency's licence)
    home_districts: tuple[tuple[str, float], ...]  # where its demo persons live, with shares
    persons: int
    caregivers: int
    volunteers: int


AGENCIES = (
    AgencySpec(
        "YIKANG",
        "南通颐康居家护理服务有限公司",
        "苏通长护定字〔2019〕017号",
        "0513-85512017",
        "南通市崇川区工农路188号颐康大厦2楼",
        ("崇川区", "开发区"),
        (("崇川区", 0.7), ("开发区", 0.3)),
        128,
        18,
        5,
    ),
    AgencySpec(
        "ANRAN",
        "南通安然居家照护服务中心",
        "苏通长护定字〔2020〕032号",
        "0513-85630032",
        "南通市崇川区长泰路56号",
        ("崇川区(原港闸区)", "通州区"),
        (("崇川区(原港闸区)", 0.6), ("通州区", 0.4)),
        124,
        17,
        5,
    ),
    AgencySpec(
        "JIANGHAI",
        "江海康养护理服务有限公司",
        "苏通长护定字〔2021〕045号",
        "0513-86010045",
        "南通市通州区兴东街道金桥路9号",
        ("通州区", "开发区", "海门区"),
        (("通州区", 0.55), ("开发区", 0.45)),
        120,
        16,
        5,
    ),
)

SURNAMES = (
    "陈",
    "王",
    "张",
    "李",
    "顾",
    "施",
    "朱",
    "徐",
    "季",
    "曹",
    "沈",
    "黄",
    "周",
    "吴",
    "陆",
    "缪",
    "范",
    "杨",
    "刘",
    "瞿",
    "葛",
    "冒",
    "保",
    "邱",
    "钱",
    "孙",
    "严",
    "姜",
)
ELDER_FEMALE = (
    "秀英",
    "桂英",
    "玉兰",
    "凤英",
    "桂兰",
    "秀兰",
    "美华",
    "淑珍",
    "玉珍",
    "素琴",
    "兰英",
    "月英",
    "菊英",
    "秀珍",
    "桂芳",
    "金凤",
    "雪琴",
    "巧云",
    "国英",
    "翠英",
)
ELDER_MALE = (
    "建国",
    "国华",
    "志明",
    "德才",
    "根生",
    "金生",
    "永福",
    "福林",
    "海清",
    "启明",
    "长林",
    "宝根",
    "荣生",
    "炳华",
    "士林",
    "正兴",
    "家骏",
    "春林",
    "锦堂",
    "和平",
)
ADULT_FEMALE = (
    "丽",
    "芳",
    "红梅",
    "海燕",
    "小红",
    "春燕",
    "晓梅",
    "美玲",
    "桂芳",
    "丽娟",
    "秀梅",
    "玉梅",
    "彩霞",
    "建英",
    "燕",
    "晓红",
    "亚琴",
    "卫红",
    "海霞",
    "慧",
)
ADULT_MALE = ("军", "伟", "建华", "海峰", "卫东", "志刚", "建平", "国庆", "晓东", "勇")
RELATIONS = ("儿子", "女儿", "儿媳", "女婿", "侄子", "配偶")
CONDITIONS = {
    "stroke": "脑卒中后遗症，一侧肢体偏瘫",
    "dementia": "阿尔茨海默病，定向力差，夜间易躁动",
    "parkinson": "帕金森病，行走不稳，易跌倒",
    "fracture": "股骨颈骨折术后，长期卧床",
    "diabetes": "2型糖尿病，双下肢感觉减退",
    "heart": "慢性心功能不全，活动耐量差",
    "spinal": "脊髓损伤后截瘫",
    "copd": "慢阻肺，活动后气促",
}


def id_check_digit(first17: str) -> str:
    """The check character of a resident ID number (ISO 7064 MOD 11-2)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def _mobile(rng: random.Random) -> str:
    prefix = rng.choice(
        (
            "139",
            "138",
            "137",
            "136",
            "135",
            "158",
            "159",
            "188",
            "187",
            "151",
            "152",
            "133",
            "153",
            "189",
            "180",
            "181",
        )
    )
    return prefix + "".join(str(rng.randrange(10)) for _ in range(8))


def _point(
    rng: random.Random, centre: tuple[float, float], spread_km: float
) -> tuple[float, float]:
    """A point around ``centre`` (normal spread), kept within reach of the city centre."""
    while True:
        north = rng.gauss(0.0, spread_km)
        east = rng.gauss(0.0, spread_km)
        lat = centre[0] + north / 110.9
        lon = centre[1] + east / (111.32 * math.cos(math.radians(centre[0])))
        if _km(lat, lon, *CENTRE) <= MAX_RADIUS_KM:
            return round(lat, 6), round(lon, 6)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat1 - lat2) * 110.9
    dx = (lon1 - lon2) * 111.32 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


# --------------------------------------------------------------------------- entry points


def is_empty(session: Session) -> bool:
    """Whether the database holds no agencies, users, persons or service items."""
    return all(
        not session.scalar(select(func.count()).select_from(model))
        for model in (Agency, User, InsuredPerson, ServiceItem)
    )


def clear_all(session: Session) -> None:
    """Delete every row of every application table, children first; flushes, the caller
    commits.

    Raises
    ------
    Conflict
        If the time bank's ledger holds accounts: it is append-only, and its owner
        references would point at new rows once ids are reused.
    """
    if inspect(session.connection()).has_table(tb_accounts.name) and session.scalar(
        select(func.count()).select_from(tb_accounts)
    ):
        raise Conflict(
            "the time-bank ledger holds accounts and cannot be emptied; recreate the database",
            {"database": "ledger not empty"},
        )
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))
    session.flush()


def load_demo(
    session: Session,
    seed: int = 0,
    *,
    reset: bool = False,
    today: dt.date | None = None,
    policy: Policy | None = None,
) -> DemoSummary:
    """Load the demo city; one commit.

    ``today`` (default: today in Asia/Shanghai) anchors plans, assessments and
    qualification expiries, so a fixed ``seed`` and ``today`` always give the same city.

    Raises
    ------
    Conflict
        If the database already holds data and ``reset`` is false.
    """
    if not is_empty(session):
        if not reset:
            raise Conflict(
                "the database already holds data",
                {"database": "not empty"},
            )
        clear_all(session)
    builder = _Builder(
        session,
        random.Random(seed),
        today or local_today(),
        policy or load_policy(),
        # One hash for every demo login: they all share the printed demo password anyway,
        # and hashing at production cost two dozen times would make loading slow.
        hash_password(DEMO_PASSWORD),
    )
    summary = builder.build(seed, load_service_items())
    session.commit()
    return summary


def demo_logins(session: Session) -> list[DemoLogin]:
    """The logins in the database whose password is still the demo password."""
    from app.services.auth import verify_password

    rows = session.execute(
        select(User, Agency.code)
        .outerjoin(Agency, Agency.id == User.agency_id)
        .where(User.active.is_(True))
        .order_by(Agency.code.nulls_first(), User.username)
    ).all()
    matches: dict[str, bool] = {}  # demo users share one hash: verify it once
    logins = []
    for user, code in rows:
        if user.password_hash not in matches:
            matches[user.password_hash] = verify_password(user.password_hash, DEMO_PASSWORD)
        if matches[user.password_hash]:
            logins.append(DemoLogin(user.username, DEMO_PASSWORD, user.role, code))
    return logins


# --------------------------------------------------------------------------- the builder


@dataclass
class _Profile:
    """What a person's assessment says about the care they need."""

    grade: int
    bedridden: bool
    cognitive: bool
    catheter: bool
    tube_fed: bool
    diabetic: bool
    conditions: list[str] = field(default_factory=list)


@dataclass
class _ItemChoice:
    code: str
    per_week: int
    windows: list[list[str]]
    priority: int
    two_staff: bool = False
    same_gender: bool = False
    duration_min: int | None = None


MORNING = [["08:30", "11:00"]]
AFTERNOON = [["13:30", "16:00"]]
ANY_TIME = [["08:30", "16:00"]]
SPLIT = [["09:00", "11:00"], ["14:00", "16:00"]]
PERSONAL_CARE_INTIMATE = frozenset({"BC01", "BC02", "BC08", "BC09", "BC11"})


class _Builder:
    def __init__(
        self,
        session: Session,
        rng: random.Random,
        today: dt.date,
        policy: Policy,
        password_hash: str,
    ) -> None:
        self.s = session
        self.rng = rng
        self.today = today
        self.policy = policy
        self.password_hash = password_hash
        self.used_ids: set[str] = set()
        self.items: dict[str, ServiceItem] = {}
        self.logins: list[DemoLogin] = []
        self.week_load: Counter[int] = Counter()  # visits per ISO weekday, per agency

    # -- top level

    def build(self, seed: int, specs: Sequence[ServiceItemSpec]) -> DemoSummary:
        self._service_items(specs)
        auditor = self._user("auditor", Role.AUDITOR, None, "审计员 周敏")
        self._user("sysadmin", Role.SYS_ADMIN, None, "系统管理员", locale="en")
        persons = caregivers = volunteers = plans = plan_items = 0
        for spec in AGENCIES:
            agency = self._agency(spec)
            self.week_load.clear()
            cgs = [self._caregiver(agency, spec, i) for i in range(spec.caregivers)]
            vols = [self._volunteer(agency, spec, i) for i in range(spec.volunteers)]
            self.s.flush()
            self._agency_users(agency, spec, cgs, vols)
            people = []
            for i in range(spec.persons):
                person, n_items = self._person(agency, spec, i, cgs, auditor)
                people.append(person)
                plan_items += n_items
            self.s.flush()
            self._relatives(vols, people)
            persons += len(people)
            caregivers += len(cgs)
            volunteers += len(vols)
            plans += len(people)
        self.s.flush()
        return DemoSummary(
            seed=seed,
            today=self.today,
            agencies=tuple(a.code for a in AGENCIES),
            persons=persons,
            caregivers=caregivers,
            volunteers=volunteers,
            plans=plans,
            plan_items=plan_items,
            service_items=len(self.items),
            logins=tuple(self.logins),
        )

    def _service_items(self, specs: Sequence[ServiceItemSpec]) -> None:
        for spec in specs:
            item = ServiceItem(
                code=spec.code,
                name_zh=spec.name_zh,
                name_en=spec.name_en,
                category=spec.category,
                standard_min=spec.standard_min,
                required_skill=spec.required_skill,
                price_fen=spec.price_fen,
                volunteer_ok=spec.volunteer_ok,
                active=True,
            )
            self.s.add(item)
            self.items[spec.code] = item
        self.s.flush()

    def _agency(self, spec: AgencySpec) -> Agency:
        agency = Agency(
            code=spec.code,
            name=spec.name,
            licence_no=spec.licence_no,
            districts=list(spec.districts),
            phone=spec.phone,
            address=spec.address,
            active=True,
        )
        self.s.add(agency)
        self.s.flush()
        return agency

    # -- people helpers

    def _name(self, gender: str, elder: bool) -> str:
        given = (
            (ELDER_FEMALE if gender == Gender.FEMALE else ELDER_MALE)
            if elder
            else (ADULT_FEMALE if gender == Gender.FEMALE else ADULT_MALE)
        )
        return self.rng.choice(SURNAMES) + self.rng.choice(given)

    def _birth(self, age_lo: int, age_hi: int) -> dt.date:
        age_days = self.rng.randint(age_lo * 365, age_hi * 365 + 364)
        return self.today - dt.timedelta(days=age_days)

    def _id_number(self, area: str, birth: dt.date, gender: str) -> str:
        while True:
            seq = self.rng.randrange(0, 100) * 10 + self.rng.randrange(5) * 2
            seq += 1 if gender == Gender.MALE else 0  # odd 17th digit: male
            first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
            number = first17 + id_check_digit(first17)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def _district(self, spec: AgencySpec) -> District:
        roll = self.rng.random()
        for name, share in spec.home_districts:
            roll -= share
            if roll < 0:
                return DISTRICTS[name]
        return DISTRICTS[spec.home_districts[-1][0]]

    def _address(self, district: District) -> str:
        compound = self.rng.choice(district.compounds)
        building = self.rng.randint(1, 42)
        room = self.rng.randint(1, 6) * 100 + self.rng.randint(1, 4)
        return f"{district.street_prefix}{compound}{building}幢{room}室"

    def _local(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ).astimezone(
            dt.UTC
        )

    # -- staff and volunteers

    def _caregiver(self, agency: Agency, spec: AgencySpec, i: int) -> Caregiver:
        rng = self.rng
        # Every agency has a few men, so same-gender visits for men can be served.
        gender = Gender.MALE if i % 6 == 1 else Gender.FEMALE
        district = self._district(spec)
        lat, lon = _point(rng, district.centre, district.spread_km + 1.0)
        mode = rng.choices((TravelMode.EBIKE, TravelMode.WALK, TravelMode.CAR), weights=(85, 7, 8))[
            0
        ]
        part_time = i >= spec.caregivers - 1  # the last one works mornings only
        cg = Caregiver(
            agency_id=agency.id,
            staff_no=f"{spec.code[:2]}{i + 1:03d}",
            name=self._name(gender, elder=False),
            gender=gender,
            phone=_mobile(rng),
            home_lat=lat,
            home_lon=lon,
            travel_mode=mode,
            shift_start=dt.time(8, 0),
            shift_end=dt.time(12, 0) if part_time else dt.time(17, 0),
            break_window_start=None if part_time else dt.time(11, 30),
            break_window_end=None if part_time else dt.time(13, 30),
            break_min=0 if part_time else 60,
            max_work_min=240 if part_time else 480,
            max_visits=None,
            active=True,
        )
        cg.qualifications = self._qualifications(i)
        self.s.add(cg)
        return cg

    def _qualifications(self, i: int) -> list[Qualification]:
        rng = self.rng

        def expiry(months_lo: int, months_hi: int) -> dt.date:
            return add_months(self.today, rng.randint(months_lo, months_hi))

        quals = [
            Qualification(
                skill=Skill.PERSONAL_CARE, level=rng.randint(2, 4), expires_on=expiry(4, 36)
            ),
            Qualification(skill=Skill.COMPANIONSHIP, level=rng.randint(1, 3), expires_on=None),
        ]
        if rng.random() < 0.85:
            quals.append(
                Qualification(skill=Skill.HOUSEHOLD, level=rng.randint(1, 3), expires_on=None)
            )
        # Nurses and rehab therapists: fixed slots, so every agency has enough of both.
        if i % 3 == 0 or i == 1:
            # One certificate per agency lapsed last month: the dispatcher has to notice.
            lapsed = i == 3
            quals.append(
                Qualification(
                    skill=Skill.NURSING,
                    level=rng.randint(2, 5),
                    expires_on=self.today - dt.timedelta(days=20) if lapsed else expiry(3, 30),
                )
            )
        if i % 4 == 2:
            quals.append(
                Qualification(skill=Skill.REHAB, level=rng.randint(2, 4), expires_on=expiry(6, 30))
            )
        return quals

    def _volunteer(self, agency: Agency, spec: AgencySpec, i: int) -> Volunteer:
        rng = self.rng
        gender = rng.choice((Gender.FEMALE, Gender.FEMALE, Gender.MALE))
        district = self._district(spec)
        lat, lon = _point(rng, district.centre, district.spread_km)
        days = rng.sample(("mon", "tue", "wed", "thu", "fri", "sat"), rng.randint(1, 3))
        availability = {
            day: [rng.choice((["09:00", "11:30"], ["14:00", "16:30"], ["08:30", "16:30"]))]
            for day in sorted(days, key=("mon", "tue", "wed", "thu", "fri", "sat").index)
        }
        vol = Volunteer(
            agency_id=agency.id,
            member_no=f"TB-{spec.code[:2]}-{i + 1:04d}",
            name=self._name(gender, elder=False),
            gender=gender,
            birth_date=self._birth(55, 72),
            phone=_mobile(rng),
            home_lat=lat,
            home_lon=lon,
            travel_mode=rng.choice((TravelMode.WALK, TravelMode.WALK, TravelMode.EBIKE)),
            availability=availability,
            active=True,
        )
        self.s.add(vol)
        return vol

    def _relatives(self, vols: Sequence[Volunteer], people: Sequence[InsuredPerson]) -> None:
        # Spouses who both volunteer, and members whose parent is an insured person:
        # the links along which credits may be gifted or redeemed.
        if len(vols) >= 2:
            self.s.add(
                VolunteerRelative(
                    volunteer_id=vols[0].id, relation="spouse", relative_volunteer_id=vols[1].id
                )
            )
            self.s.add(
                VolunteerRelative(
                    volunteer_id=vols[1].id, relation="spouse", relative_volunteer_id=vols[0].id
                )
            )
        for vol, person in zip(vols[2:4], self.rng.sample(list(people), 2), strict=False):
            self.s.add(
                VolunteerRelative(
                    volunteer_id=vol.id, relation="parent", relative_person_id=person.id
                )
            )

    # -- users

    def _user(
        self,
        username: str,
        role: Role,
        agency: Agency | None,
        display_name: str,
        *,
        caregiver: Caregiver | None = None,
        volunteer: Volunteer | None = None,
        locale: str = "zh_Hans_CN",
    ) -> User:
        user = User(
            username=username,
            password_hash=self.password_hash,
            display_name=display_name,
            role=role,
            agency_id=agency.id if agency else None,
            caregiver_id=caregiver.id if caregiver else None,
            volunteer_id=volunteer.id if volunteer else None,
            locale=locale,
            active=True,
        )
        self.s.add(user)
        self.s.flush()
        self.logins.append(
            DemoLogin(username, DEMO_PASSWORD, role.value, agency.code if agency else None)
        )
        return user

    def _agency_users(
        self, agency: Agency, spec: AgencySpec, cgs: Sequence[Caregiver], vols: Sequence[Volunteer]
    ) -> None:
        prefix = spec.code.lower()
        self._user(
            f"{prefix}.dispatcher", Role.DISPATCHER, agency, self._name(Gender.FEMALE, False)
        )
        self._user(f"{prefix}.admin", Role.AGENCY_ADMIN, agency, self._name(Gender.MALE, False))
        for n, cg in enumerate(cgs[:3], start=1):
            self._user(f"{prefix}.cg{n}", Role.CAREGIVER, agency, cg.name, caregiver=cg)
        for n, vol in enumerate(vols[:2], start=1):
            self._user(f"{prefix}.vol{n}", Role.VOLUNTEER, agency, vol.name, volunteer=vol)

    # -- insured persons

    def _person(
        self,
        agency: Agency,
        spec: AgencySpec,
        i: int,
        cgs: Sequence[Caregiver],
        approver: User,
    ) -> tuple[InsuredPerson, int]:
        rng = self.rng
        district = self._district(spec)
        gender = Gender.FEMALE if rng.random() < 0.58 else Gender.MALE
        birth = self._birth(58, 96) if rng.random() > 0.08 else self._birth(45, 64)
        lat, lon = _point(rng, district.centre, district.spread_km)
        grade = rng.choices((1, 2, 3, 4, 5), weights=(3, 4, 35, 33, 25))[0]
        adl, cog, per = self._scores(grade)
        profile = self._profile(grade, adl, cog)

        # Who is not eligible, and why: below the threshold (grade 1-2), disabled for less
        # than six months, or an assessment that has lapsed.
        fate = rng.random()
        recent = grade >= 3 and fate < 0.04
        lapsed = grade >= 3 and 0.04 <= fate < 0.06
        suspended = 0.06 <= fate < 0.08
        if lapsed:
            assessed = self.today - dt.timedelta(days=rng.randint(740, 900))
            valid_until = assessed + dt.timedelta(days=730)
        elif recent:
            assessed = self.today - dt.timedelta(days=rng.randint(10, 60))
            valid_until = add_months(assessed, self.policy.assessment_valid_months)
        else:
            assessed = self.today - dt.timedelta(days=rng.randint(20, 600))
            valid_until = add_months(assessed, self.policy.assessment_valid_months)
        if recent:
            since = self.today - dt.timedelta(days=rng.randint(60, 150))
        else:
            since = assessed - dt.timedelta(days=rng.randint(200, 3000))

        contact_relation = rng.choice(RELATIONS)
        contact = self._name(
            rng.choice((Gender.FEMALE, Gender.MALE)), elder=contact_relation == "配偶"
        )
        plan_from = self.today - dt.timedelta(days=rng.randint(5, 160))
        person = InsuredPerson(
            agency_id=agency.id,
            name=self._name(gender, elder=True),
            gender=gender,
            birth_date=birth,
            id_number=self._id_number(district.area_code, birth, gender),
            address=self._address(district),
            district=district.name,
            lat=lat,
            lon=lon,
            phone=_mobile(rng) if rng.random() < 0.6 else None,
            emergency_contact_name=f"{contact}（{contact_relation}）",
            emergency_contact_phone=_mobile(rng),
            consent_given_at=self._local(
                plan_from - dt.timedelta(days=rng.randint(3, 20)), rng.randint(9, 16)
            ),
            consent_by="本人"
            if not profile.cognitive
            else f"{contact}（{contact_relation}，监护人）",
            disability_since=since,
            care_notes="；".join(profile.conditions),
            status=PersonStatus.SUSPENDED if suspended else PersonStatus.ACTIVE,
        )
        self.s.add(person)
        self.s.add(
            Assessment(
                person=person,
                adl_scores=adl,
                cognition_scores=cog,
                perception_scores=per,
                adl_total=sum(adl),
                cognition_total=sum(cog),
                perception_total=sum(per),
                grade=grade,
                assessed_at=assessed,
                assessor=rng.choice(
                    (
                        "南通市长护险评估中心 张医师",
                        "南通市长护险评估中心 顾护师",
                        "第三方评估机构 陆评估员",
                        "第三方评估机构 施评估员",
                    )
                ),
                valid_until=valid_until,
            )
        )
        choices = self._care_items(profile, gender)
        preferred = self._preferred(cgs, person, choices) if rng.random() < 0.7 else None
        plan = CarePlan(
            person=person,
            agency_id=agency.id,
            valid_from=plan_from,
            valid_to=add_months(plan_from, 12) - dt.timedelta(days=1),
            status=PlanStatus.APPROVED,
            approved_by_id=approver.id,
            approved_at=self._local(plan_from - dt.timedelta(days=2), 10),
            notes=None,
        )
        for choice in choices:
            service = self.items[choice.code]
            weekdays = self._weekdays(choice.per_week)
            can_prefer = preferred is not None and any(
                q.skill == service.required_skill for q in preferred.qualifications
            )
            plan.items.append(
                PlanItem(
                    service_item_id=service.id,
                    times_per_week=None if weekdays else choice.per_week,
                    # SQL NULL, not JSON null: the one-frequency CHECK tests IS NULL.
                    weekdays=weekdays or null(),
                    windows=[list(w) for w in choice.windows],
                    duration_min=choice.duration_min,
                    preferred_caregiver_id=preferred.id if preferred and can_prefer else None,
                    two_staff=choice.two_staff,
                    same_gender=choice.same_gender,
                    priority=choice.priority,
                )
            )
        self.s.add(plan)
        return person, len(choices)

    def _weekdays(self, per_week: int) -> list[int] | None:
        """Explicit weekdays for most items, chosen where the agency's week is still light
        (as a planner would); None leaves the item on the fixed N-times-a-week pattern."""
        if per_week >= 5 or self.rng.random() < 0.25:
            days: Sequence[int] = WEEKDAY_PATTERNS[per_week]
            chosen = None
        else:
            pool = [1, 2, 3, 4, 5] + ([6] if self.rng.random() < 0.15 else [])
            pool.sort(key=lambda d: self.week_load[d] + self.rng.random() * 4)
            chosen = sorted(pool[:per_week])
            days = chosen
        for day in days:
            self.week_load[day] += 1
        return chosen

    def _scores(self, grade: int) -> tuple[list[int], list[int], list[int]]:
        """Item scores whose grade is ``grade``: pick a cell of the combination table
        holding that grade, then scores whose totals fall in the cell's bands."""
        table = self.policy.combination
        cells = [(r, c) for r, row in enumerate(table) for c, g in enumerate(row) if g == grade]
        adl_level, cp_level = self.rng.choice(cells)
        adl = self._dimension_scores(self.policy.adl, adl_level)
        other = self.rng.randint(0, cp_level)
        if self.rng.random() < 0.5:
            cog_level, per_level = cp_level, other
        else:
            cog_level, per_level = other, cp_level
        cog = self._dimension_scores(self.policy.cognition, cog_level)
        per = self._dimension_scores(
            self.policy.perception, min(per_level, len(self.policy.perception.levels) - 1)
        )
        assert grade_for(self.policy, adl, cog, per) == grade
        return adl, cog, per

    def _dimension_scores(self, dim: Dimension, level: int) -> list[int]:
        band = dim.levels[level]
        while True:
            target = self.rng.randint(band.min, band.max)
            notches = [len(item.scores) - 1 for item in dim.items]
            # Lower random items one step at a time from full marks down to the target.
            while sum(item.scores[n] for item, n in zip(dim.items, notches, strict=True)) > target:
                k = self.rng.choice([j for j, n in enumerate(notches) if n > 0])
                notches[k] -= 1
            scores = [item.scores[n] for item, n in zip(dim.items, notches, strict=True)]
            if band.min <= sum(scores) <= band.max:
                return scores

    def _profile(self, grade: int, adl: list[int], cog: list[int]) -> _Profile:
        rng = self.rng
        adl_total = sum(adl)
        bedridden = adl_total <= 20
        cognitive = self.policy.cognition.level_for(sum(cog)) >= 2
        profile = _Profile(
            grade=grade,
            bedridden=bedridden,
            cognitive=cognitive,
            catheter=bedridden and rng.random() < 0.3,
            tube_fed=bedridden and rng.random() < 0.15,
            diabetic=rng.random() < 0.2,
        )
        if cognitive:
            profile.conditions.append(CONDITIONS["dementia"])
        main = rng.choice(("stroke", "parkinson", "fracture", "heart", "spinal", "copd"))
        if bedridden and main in ("heart", "copd"):
            main = "fracture"
        profile.conditions.append(CONDITIONS[main])
        if profile.diabetic:
            profile.conditions.append(CONDITIONS["diabetes"])
        if profile.catheter:
            profile.conditions.append("留置导尿管")
        if profile.tube_fed:
            profile.conditions.append("鼻饲饮食")
        return profile

    def _care_items(self, profile: _Profile, gender: str) -> list[_ItemChoice]:
        """2-5 plan items fitting the profile, within the grade's weekly entitlement."""
        rng = self.rng
        grade = max(profile.grade, self.policy.min_grade)
        entitlement = self.policy.entitlement(grade)
        assert entitlement is not None
        wanted = {3: (2, 4), 4: (3, 5), 5: (4, 5)}[grade]
        count = rng.randint(*wanted)
        same_gender = rng.random() < 0.15
        heavy = profile.bedridden and rng.random() < 0.5

        must: list[_ItemChoice] = []
        if profile.bedridden:
            must.append(
                _ItemChoice(
                    "BC02", rng.choice((1, 2)), rng.choice((MORNING, ANY_TIME)), 2, two_staff=heavy
                )
            )
        else:
            must.append(
                _ItemChoice(
                    "BC01", rng.choice((1, 2)), rng.choice((MORNING, AFTERNOON)), 2, two_staff=heavy
                )
            )
        pool: list[tuple[float, _ItemChoice]] = [
            (2.0, _ItemChoice("BC03", 1, rng.choice((MORNING, ANY_TIME)), 3)),
            (1.5, _ItemChoice("BC04", 3, MORNING, 2)),
            (1.5, _ItemChoice("BC06", 1, ANY_TIME, 3)),
            (1.0, _ItemChoice("BC08", rng.choice((2, 3)), [["08:00", "09:30"]], 2)),
            (1.5, _ItemChoice("BC09", 3, ANY_TIME, 2)),
            (1.5, _ItemChoice("BC10", 3, ANY_TIME, 2, two_staff=heavy)),
            (1.0, _ItemChoice("BC12", 1, AFTERNOON, 3)),
            (1.5, _ItemChoice("RH02", 2, rng.choice((MORNING, AFTERNOON)), 3)),
            (1.2, _ItemChoice("CP01", 2, SPLIT, 3)),
            (1.0, _ItemChoice("HH01", 1, SPLIT, 3)),
            (0.8, _ItemChoice("HH02", 1, SPLIT, 3)),
            (0.5, _ItemChoice("HH04", 1, SPLIT, 3)),
        ]
        if gender == Gender.MALE:
            pool.append((1.0, _ItemChoice("BC07", rng.choice((1, 2)), MORNING, 3)))
        if profile.bedridden:
            pool += [
                (4.0, _ItemChoice("MC01", 3, ANY_TIME, 1)),
                (2.0, _ItemChoice("MC09", rng.choice((2, 3)), ANY_TIME, 2)),
                (2.0, _ItemChoice("BC11", rng.choice((2, 3)), MORNING, 2)),
                (1.5, _ItemChoice("RH04", rng.choice((1, 2)), AFTERNOON, 2)),
            ]
        else:
            pool += [
                (2.0, _ItemChoice("RH01", rng.choice((2, 3)), rng.choice((MORNING, AFTERNOON)), 2)),
                (1.0, _ItemChoice("BC05", rng.choice((3, 5)), [["10:45", "11:30"]], 1)),
            ]
        if profile.cognitive:
            pool += [
                (2.5, _ItemChoice("RH03", rng.choice((1, 2)), ANY_TIME, 2)),
                (2.0, _ItemChoice("BC13", rng.choice((3, 5)), [["08:00", "09:30"]], 1)),
            ]
        if profile.catheter:
            must.append(_ItemChoice("MC02", 2, ANY_TIME, 1))
        if profile.tube_fed:
            must.append(_ItemChoice("MC03", rng.choice((2, 3)), [["10:30", "11:15"]], 1))
        if profile.diabetic:
            pool.append((2.0, _ItemChoice("MC06", rng.choice((1, 2)), [["08:00", "09:30"]], 1)))
        if rng.random() < 0.15:
            pool.append((1.0, _ItemChoice("MC05", 1, MORNING, 2)))

        chosen = list(must)
        while len(chosen) < count and pool:
            weights = [w for w, _ in pool]
            k = rng.choices(range(len(pool)), weights=weights)[0]
            chosen.append(pool.pop(k)[1])
        for choice in chosen:
            if same_gender and choice.code in PERSONAL_CARE_INTIMATE:
                choice.same_gender = True
            if rng.random() < 0.12:
                choice.duration_min = self.items[choice.code].standard_min + 15
        self._fit_entitlement(
            chosen, entitlement.max_visits_per_week, entitlement.minutes_per_month
        )
        return chosen

    def _fit_entitlement(
        self, chosen: list[_ItemChoice], max_visits: int, max_minutes: int
    ) -> None:
        """Lower frequencies (least important items first) until the plan fits."""

        def visits() -> int:
            return sum(c.per_week for c in chosen)

        def minutes() -> float:
            return sum(
                c.per_week * (c.duration_min or self.items[c.code].standard_min) * 52 / 12
                for c in chosen
            )

        order = sorted(chosen, key=lambda c: -c.priority)
        while visits() > max_visits or minutes() > max_minutes:
            target = next((c for c in order if c.per_week > 1), None)
            if target is None:
                break
            target.per_week -= 1

    def _preferred(
        self, cgs: Sequence[Caregiver], person: InsuredPerson, choices: Sequence[_ItemChoice]
    ) -> Caregiver | None:
        """A caregiver living near the person, of the person's gender where asked."""
        needs_gender = any(c.same_gender for c in choices)
        fit = [
            cg
            for cg in cgs
            if cg.shift_end >= dt.time(17, 0) and (not needs_gender or cg.gender == person.gender)
        ]
        if not fit:
            return None
        fit.sort(key=lambda cg: _km(cg.home_lat, cg.home_lon, person.lat, person.lon))
        return self.rng.choice(fit[:4])
