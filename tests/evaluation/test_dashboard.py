"""« Tableau de bord » of a campaign (evaluation/admin_pages/dashboard.py): on a generated campaign, every table of
the page shows the figures counted here from the database rows, row by row; the filters by department, state and
region change them accordingly; an ARS agent sees their region only; evaluators of the Assurance Maladie and of the
OMEDIT are refused; the number of queries does not grow with the number of contracts."""

import datetime
from collections import Counter
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.enums import ContractStatus
from contracts.models import Contract
from evaluation.enums import EvaluatingBody, FilledBy, NoticeKind, SelfEvaluationState, Verdict
from evaluation.models import Consolidation, Decision, IndicatorValue, Notice, SelfEvaluation, Transition
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, ContractTypeFactory, EntiteJuridiqueFactory, _luhn_key
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory, SelfEvaluationFactory


State = SelfEvaluationState
CLOSED_STATES = set(State.closed_states())
BUCKETS = {"bucket_0": (0, 0), "bucket_1": (1, 24), "bucket_2": (25, 49), "bucket_3": (50, 74), "bucket_4": (75, 99)}


# --- Reading the page's tables ------------------------------------------------------------------------------


class _Tables(HTMLParser):
    """{table id: {"caption": text, "rows": {row key: [cell texts]}}}, a row's key being its `data-code` or
    `data-day` attribute (rows without one are left out)."""

    def __init__(self):
        super().__init__()
        self.tables, self._table, self._row, self._cell, self._caption = {}, None, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), {"caption": "", "rows": {}, "scoped": True})
        elif self._table is None:
            return
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            key = attrs.get("data-code") or attrs.get("data-day")
            self._row = self._table["rows"].setdefault(key, []) if key else None
        elif tag in ("th", "td"):
            if tag == "th" and "scope" not in attrs:
                self._table["scoped"] = False
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "caption" and self._caption is not None:
            self._table["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("th", "td") and self._cell is not None:
            if self._row is not None:
                self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)


def tables_of(response) -> dict:
    assert response.status_code == 200
    parser = _Tables()
    parser.feed(response.content.decode())
    for table_id, table in parser.tables.items():
        assert table["caption"], f"{table_id}: a table without a caption"
        assert table["scoped"], f"{table_id}: a header cell without scope"
    return parser.tables


def column(table, index=1) -> dict[str, int]:
    """{row key: the integer in its `index`-th cell}."""
    return {key: int(cells[index]) for key, cells in table["rows"].items()}


# --- A generated campaign ---------------------------------------------------------------------------------------


def finess(department: str, number: int) -> str:
    digits = f"{department}{number:06d}"
    return digits + _luhn_key(digits)


class CampaignWorld:
    """A campaign of two regions whose deadline was 10 days ago: four questions to fill (required, by the
    establishment; the second also evaluated by the AM), one optional question, one question filled by the ARS
    (evaluated by the OMEDIT). Contracts are added with `contract(...)`."""

    def __init__(self, region, other_region):
        self.region, self.other_region = region, other_region
        self.today = timezone.localdate()
        self.deadline = self.today - datetime.timedelta(days=10)
        self.contract_type = ContractTypeFactory()
        self.campaign = CampaignFactory(
            contract_type=self.contract_type,
            regions=[region, other_region],
            name="CAQES 2025",
            precampaign_start=None,
            precampaign_end=None,
            self_assessment_start=self.deadline - datetime.timedelta(days=60),
            self_assessment_deadline=self.deadline,
        )
        referential = self.campaign.referential
        self.counted = [
            NodeFactory(referential=referential, oui_non=True, evaluated_by_am=(n == 1), code=f"1.{n}")
            for n in range(4)
        ]
        self.others = [
            NodeFactory(referential=referential, oui_non=True, required=False, code="2.1"),
            NodeFactory(
                referential=referential,
                oui_non=True,
                code="2.2",
                filled_by=FilledBy.ARS,
                evaluated_by_ars=False,
                evaluated_by_omedit=True,
            ),
        ]
        self.ars = UserFactory(ars_staff=True, region=region)
        self.member = UserFactory()
        self.numbers = iter(range(1, 100_000))

    def contract(
        self,
        department="31",
        state=None,
        *,
        region=None,
        filled=0,
        closed=None,
        automatic=False,
        status=ContractStatus.SIGNE,
        contract_type=None,
        values=True,
    ):
        """A contract of an EJ of `department`; with `state`, its self-evaluation in the campaign, `filled` of the
        four counted questions answered (the last one « non concerné »; no value at all without `values`), closed at
        `closed` (an aware datetime), automatically or by the establishment."""
        ej = EntiteJuridiqueFactory(finess=finess(department, next(self.numbers)), region=region or self.region)
        contract = ContractFactory(ej=ej, contract_type=contract_type or self.contract_type, status=status)
        if state is None:
            return contract
        self_evaluation = SelfEvaluationFactory(
            contract=contract,
            campaign=self.campaign,
            state=state,
            closed_at=closed if state in CLOSED_STATES else None,
        )
        for position, node in enumerate(self.counted if values else []):
            answered = position < filled
            IndicatorValueFactory(
                self_evaluation=self_evaluation,
                indicator=node,
                value="1" if answered and position < 3 else "",
                not_applicable=answered and position == 3,
                not_applicable_reason="Pas d'activité concernée." if answered and position == 3 else "",
            )
        for node in self.others if values else []:
            IndicatorValueFactory(self_evaluation=self_evaluation, indicator=node, value="1")
        if state in CLOSED_STATES:
            Transition.objects.create(
                self_evaluation=self_evaluation,
                from_state=State.AUTO_EVALUATION,
                to_state=State.CLOTUREE,
                user=None if automatic else self.member,
            )
        return self_evaluation

    def decide(self, self_evaluation, body, *positions):
        for position in positions:
            Decision.objects.create(
                value=self.value(self_evaluation, position),
                body=body,
                verdict=Verdict.ATTEINT,
                decided_by=self.ars,
                decided_at=timezone.now(),
            )

    def consolidate(self, self_evaluation, *positions):
        for position in positions:
            Consolidation.objects.create(
                value=self.value(self_evaluation, position),
                verdict=Verdict.ATTEINT,
                decided_by=self.ars,
                decided_at=timezone.now(),
            )

    def value(self, self_evaluation, position):
        return IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator=self.counted[position])

    def notify(self, self_evaluation, kind, recipients=1):
        for _ in range(recipients):
            Notice.objects.create(
                self_evaluation=self_evaluation, kind=kind, recipient=UserFactory(), deadline=self.deadline
            )

    def at(self, day: datetime.date, hour=12, minute=0) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def generated_campaign(region, other_region) -> CampaignWorld:
    """Occitanie (departments 31 and 34) and Auvergne-Rhône-Alpes (69) in one campaign: contracts in every early
    state, closures on several days (one automatic), reminders, decisions (also used by tests/e2e/)."""
    w = CampaignWorld(region, other_region)
    day = datetime.timedelta(days=1)
    w.contract("31", State.AUTO_EVALUATION, filled=0)
    w.notify(w.contract("34", State.AUTO_EVALUATION, filled=1), NoticeKind.RELANCE_J30, recipients=2)
    w.notify(w.contract("31", State.AUTO_EVALUATION, filled=4), NoticeKind.RELANCE_J7)
    w.contract("31", State.PRE_CAMPAGNE, filled=3)
    w.contract("34", State.AUTO_EVALUATION, filled=2)
    w.contract("34", State.AUTO_EVALUATION, values=False)  # nothing to fill: 100 %
    # Closures: two on the same day before the deadline, one on the deadline's last minute, one automatic the day
    # after, one by the establishment at 00:30 the day after (still the deadline's day in UTC), one later.
    w.notify(w.contract("34", State.CLOTUREE, closed=w.at(w.deadline - 3 * day)), NoticeKind.OUVERTURE)
    in_evaluation = w.contract("31", State.EN_EVALUATION, closed=w.at(w.deadline - 3 * day, 9), filled=4)
    w.decide(in_evaluation, EvaluatingBody.ARS, 0, 1)
    w.decide(in_evaluation, EvaluatingBody.AM, 1)
    w.consolidate(in_evaluation, 0)
    w.contract("31", State.CLOTUREE, closed=w.at(w.deadline, 23, 59), filled=3)
    automatic = w.contract("34", State.CLOTUREE, closed=w.at(w.deadline + day, 0, 0), automatic=True)
    w.notify(automatic, NoticeKind.CLOTURE_OFFICE, recipients=3)
    w.contract("31", State.CLOTUREE, closed=w.at(w.deadline + day, 0, 30), filled=4)
    reported = w.contract("31", State.RAPPORT_ENVOYE, closed=w.at(w.deadline + 4 * day), filled=4)
    w.decide(reported, EvaluatingBody.ARS, 0, 1, 2, 3)
    w.decide(reported, EvaluatingBody.AM, 1)
    w.consolidate(reported, 0, 1, 2, 3)
    w.notify(reported, NoticeKind.EVALUATION_ATTENDUE)
    # Reopened after a clôture d'office, closed again by the establishment: its latest closure is not automatic.
    reopened = w.contract("34", State.CLOTUREE, closed=w.at(w.deadline + 2 * day), automatic=True, filled=4)
    Transition.objects.create(
        self_evaluation=reopened, from_state=State.CLOTUREE, to_state=State.AUTO_EVALUATION, user=w.ars
    )
    Transition.objects.create(
        self_evaluation=reopened, from_state=State.AUTO_EVALUATION, to_state=State.CLOTUREE, user=w.member
    )
    # Not opened yet: two signed contracts. Not counted: a contract in preparation, a contract of another type.
    w.contract("31")
    w.contract("34")
    w.contract("31", status=ContractStatus.EN_PREPARATION)
    w.contract("31", contract_type=ContractTypeFactory(code="CPOM", name="CPOM"))
    # The other region of the campaign: counted for national administrators only.
    other = w.contract("69", State.AUTO_EVALUATION, region=other_region, filled=4)
    w.notify(other, NoticeKind.RELANCE_J30, recipients=5)
    w.contract("69", State.CLOTUREE, region=other_region, closed=w.at(w.deadline - 20 * day))
    w.contract("69", region=other_region)
    return w


@pytest.fixture
def world(region, other_region):
    return generated_campaign(region, other_region)


# --- The figures, counted from the rows --------------------------------------------------------------------------


def in_scope(ej, region_ids, department):
    return ej.region_id in region_ids and (not department or ej.finess.startswith(department))


def expected(world, region_ids, department="", state=""):
    """Every figure of the page, counted by walking the database's rows."""
    self_evaluations = [
        s
        for s in SelfEvaluation.objects.filter(campaign=world.campaign).select_related("contract__ej")
        if in_scope(s.contract.ej, region_ids, department) and (not state or s.state == state)
    ]
    states = Counter(s.state for s in self_evaluations)
    opened = set(SelfEvaluation.objects.filter(campaign=world.campaign).values_list("contract_id", flat=True))
    unopened = [
        c
        for c in Contract.objects.select_related("ej")
        if in_scope(c.ej, region_ids, department)
        and c.contract_type_id == world.campaign.contract_type_id
        and c.status == ContractStatus.SIGNE
        and c.pk not in opened
    ]
    states["non_ouverte"] = len(unopened) if state in ("", "non_ouverte") else 0
    states_row = {code: states.get(code, 0) for code in ["non_ouverte", *State.values]}

    fill = dict.fromkeys([*BUCKETS, "bucket_5"], 0)
    for s in self_evaluations:
        if s.state not in (State.PRE_CAMPAGNE, State.AUTO_EVALUATION):
            continue
        counted = [
            v
            for v in s.values.select_related("indicator")
            if v.indicator.filled_by == FilledBy.ETABLISSEMENT and v.indicator.required and v.indicator.value_type
        ]
        answered = sum(1 for v in counted if v.not_applicable or v.value)
        percent = 100 if not counted else answered * 100 // len(counted)
        bucket = next((b for b, (low, high) in BUCKETS.items() if low <= percent <= high), "bucket_5")
        fill[bucket] += 1

    per_day, on_time, late, automatic = Counter(), 0, 0, 0
    for s in self_evaluations:
        if s.state not in CLOSED_STATES:
            continue
        day = timezone.localtime(s.closed_at).date()
        per_day[day] += 1
        last = s.transitions.filter(to_state=State.CLOTUREE).order_by("created_at", "pk").last()
        if last is not None and last.user_id is None:
            automatic += 1
        elif day <= world.deadline:
            on_time += 1
        else:
            late += 1
    days = {}
    if per_day:
        day, cumulative = min(per_day), 0
        while day <= max(max(per_day), world.deadline):
            cumulative += per_day[day]
            days[day.isoformat()] = (per_day[day], cumulative)
            day += datetime.timedelta(days=1)

    ids = {s.pk for s in self_evaluations}
    reminders = Counter(n.kind for n in Notice.objects.all() if n.self_evaluation_id in ids)

    decided, to_decide, consolidated, questions = Counter(), Counter(), 0, 0
    for s in self_evaluations:
        if s.state not in CLOSED_STATES:
            continue
        for v in s.values.select_related("indicator"):
            questions += 1
            consolidated += Consolidation.objects.filter(value=v).exists()
            for body in EvaluatingBody.values:
                if getattr(v.indicator, f"evaluated_by_{body}"):
                    to_decide[body] += 1
                    decided[body] += Decision.objects.filter(value=v, body=body).exists()
    return {
        "states": states_row,
        "fill": fill,
        "closures": days,
        "closures_summary": {"a_temps": on_time, "en_retard": late, "d_office": automatic},
        "reminders": {kind: reminders.get(kind, 0) for kind in NoticeKind.values},
        "evaluation_states": {code: states_row[code] for code in State.closed_states()},
        "decisions": {
            **{body: (decided[body], to_decide[body]) for body in EvaluatingBody.values},
            "consolidation": (consolidated, questions),
        },
    }


def figures_shown(response) -> dict:
    tables = tables_of(response)
    closures = tables.get("table-clotures", {"rows": {}})["rows"]
    return {
        "states": column(tables["table-etats"]),
        "fill": column(tables["table-remplissage"]),
        "closures": {day: (int(cells[1]), int(cells[2])) for day, cells in closures.items()},
        "closures_summary": column(tables["table-clotures-bilan"]),
        "reminders": column(tables["table-relances"]),
        "evaluation_states": column(tables["table-evaluation-etats"]),
        "decisions": {key: (int(cells[1]), int(cells[2])) for key, cells in tables["table-decisions"]["rows"].items()},
    }


def dashboard_url(campaign, **params):
    url = reverse("admin:evaluation_campaign_dashboard", args=[campaign.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


# --- The page's figures ------------------------------------------------------------------------------------------


def test_the_tables_show_the_figures_of_the_database(world, client_for, region):
    response = client_for(world.ars).get(dashboard_url(world.campaign))
    shown = figures_shown(response)
    assert shown == expected(world, {region.pk})
    # What the generated campaign holds, so that the comparison above is not between two empty pages.
    assert shown["states"] == {
        "non_ouverte": 2,
        "pre_campagne": 1,
        "auto_evaluation": 5,
        "cloturee": 5,
        "en_evaluation": 1,
        "rapport_envoye": 1,
        "contradictoire": 0,
        "definitive": 0,
    }
    assert shown["fill"] == {
        "bucket_0": 1,
        "bucket_1": 0,
        "bucket_2": 1,
        "bucket_3": 1,
        "bucket_4": 1,
        "bucket_5": 2,
    }
    assert shown["closures_summary"] == {"a_temps": 3, "en_retard": 3, "d_office": 1}
    deadline = shown["closures"][world.deadline.isoformat()]
    assert deadline == (1, 3)
    assert list(shown["closures"])[0] == (world.deadline - datetime.timedelta(days=3)).isoformat()
    assert list(shown["closures"])[-1] == (world.deadline + datetime.timedelta(days=4)).isoformat()
    assert shown["reminders"]["relance_j30"] == 2
    assert shown["reminders"]["cloture_office"] == 3
    assert shown["decisions"] == {"ars": (6, 35), "am": (2, 7), "omedit": (0, 7), "consolidation": (5, 42)}
    page = response.content.decode()
    assert "<strong>(date limite)</strong>" in page
    assert page.count("<bar-chart ") == 5 and page.count("<bar-line-chart ") == 1


def test_the_charts_carry_the_tables_figures(world, client_for):
    response = client_for(world.ars).get(dashboard_url(world.campaign))
    charts = response.context["charts"]
    shown = figures_shown(response)
    assert charts["states"]["y"] == "[[" + ", ".join(str(n) for n in shown["states"].values()) + "]]"
    assert charts["closures"]["y_line"] == "[" + ", ".join(str(c) for _, c in shown["closures"].values()) + "]"
    assert '"Non ouverte"' in charts["states"]["x"] and "(date limite)" in charts["closures"]["x"]


def test_the_department_filter_changes_the_figures(world, client_for, region):
    client = client_for(world.ars)
    for department in ("31", "34"):
        response = client.get(dashboard_url(world.campaign, departement=department))
        shown = figures_shown(response)
        assert shown == expected(world, {region.pk}, department=department)
        assert f"département {department}" in response.content.decode()
    whole = figures_shown(client.get(dashboard_url(world.campaign)))
    by_department = [figures_shown(client.get(dashboard_url(world.campaign, departement=d))) for d in ("31", "34")]
    for code, count in whole["states"].items():
        assert count == sum(shown["states"][code] for shown in by_department)


@pytest.mark.parametrize("state", ["non_ouverte", "auto_evaluation", "cloturee", "rapport_envoye", "definitive"])
def test_the_state_filter_changes_the_figures(world, client_for, region, state):
    response = client_for(world.ars).get(dashboard_url(world.campaign, etat=state))
    shown = figures_shown(response)
    assert shown == expected(world, {region.pk}, state=state)
    assert [code for code, count in shown["states"].items() if count] == ([state] if state != "definitive" else [])


def test_both_filters_at_once(world, client_for, region):
    response = client_for(world.ars).get(dashboard_url(world.campaign, departement="34", etat="cloturee"))
    shown = figures_shown(response)
    assert shown == expected(world, {region.pk}, department="34", state="cloturee")
    assert shown["states"]["cloturee"] == 3
    assert shown["closures_summary"] == {"a_temps": 1, "en_retard": 1, "d_office": 1}


def test_an_unknown_filter_value_is_reported_and_left_out(world, client_for, region):
    response = client_for(world.ars).get(dashboard_url(world.campaign, departement="75", etat="perdue"))
    page = response.content.decode()
    assert "Un filtre n'a pas été appliqué" in page
    assert "Département : Choisissez une valeur de la liste : « 75 » n&#x27;en est pas une." in page
    assert 'href="#id_departement"' in page and 'aria-describedby="id_departement_erreur"' in page
    assert figures_shown(response) == expected(world, {region.pk})


def test_the_department_list_is_the_regions(world, client_for):
    form = client_for(world.ars).get(dashboard_url(world.campaign)).context["form"]
    departments = [value for value, _ in form.fields["departement"].choices]
    assert departments == ["", "09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"]
    assert "region" not in form.fields


def test_labels_tie_each_filter_to_its_field(world, client_for):
    page = client_for(world.ars).get(dashboard_url(world.campaign)).content.decode()
    for name, label in (("departement", "Département"), ("etat", "Etat")):
        assert f'<label for="id_{name}">{label}\xa0:</label>' in page
        assert f'<select name="{name}" id="id_{name}">' in page
    assert '<button type="submit" class="button default">Filtrer</button>' in page


# --- Who sees what -------------------------------------------------------------------------------------------


def test_an_agent_never_counts_another_regions_contracts(world, client_for, region, other_region):
    shown = figures_shown(client_for(world.ars).get(dashboard_url(world.campaign, region=other_region.pk)))
    assert shown == expected(world, {region.pk})
    everything = expected(world, {region.pk, other_region.pk})
    assert shown["reminders"]["relance_j30"] != everything["reminders"]["relance_j30"]
    # The other region's agent sees that region's figures in the same campaign.
    other_agent = UserFactory(ars_staff=True, region=other_region)
    shown = figures_shown(client_for(other_agent).get(dashboard_url(world.campaign)))
    assert shown == expected(world, {other_region.pk})
    assert shown["states"]["auto_evaluation"] == 1 and shown["reminders"]["relance_j30"] == 5


def test_another_regions_campaign_is_not_found(world, client_for, other_region):
    campaign = CampaignFactory(regions=[other_region])
    client = client_for(world.ars)
    assert client.get(dashboard_url(campaign)).status_code == 404
    assert client.get(dashboard_url(campaign, departement="69")).status_code == 404
    assert client.get("/admin/evaluation/campaign/999999/tableau-de-bord/").status_code == 404


@pytest.mark.parametrize("trait", ["am_staff", "omedit_staff"])
def test_evaluators_of_the_am_and_the_omedit_are_refused(world, client_for, region, trait):
    client = client_for(UserFactory(**{trait: True, "region": region}))
    assert client.get(dashboard_url(world.campaign)).status_code == 403
    assert client.get(dashboard_url(CampaignFactory(regions=[region]))).status_code == 403
    change = client.get(reverse("admin:evaluation_campaign_change", args=[world.campaign.pk]))
    assert change.status_code == 200 and "tableau-de-bord" not in change.content.decode()
    changelist = client.get(reverse("admin:evaluation_campaign_changelist"))
    assert "tableau-de-bord" not in changelist.content.decode()


def test_a_national_administrator_chooses_a_region_or_all(world, client_for, region, other_region):
    client = client_for(UserFactory(national_admin=True))
    response = client.get(dashboard_url(world.campaign))
    assert figures_shown(response) == expected(world, {region.pk, other_region.pk})
    choices = response.context["form"].fields["region"].choices
    assert choices == [
        ("", "Toutes les régions de la campagne"),
        (str(other_region.pk), "Auvergne-Rhône-Alpes"),
        (str(region.pk), "Occitanie"),
    ]
    response = client.get(dashboard_url(world.campaign, region=other_region.pk))
    assert figures_shown(response) == expected(world, {other_region.pk})
    departments = [value for value, _ in response.context["form"].fields["departement"].choices]
    assert "69" in departments and "31" not in departments
    response = client.get(dashboard_url(world.campaign, region=other_region.pk, departement="69"))
    assert figures_shown(response) == expected(world, {other_region.pk}, department="69")


def test_the_page_is_reached_from_the_campaigns_page_and_list(world, client_for):
    client = client_for(world.ars)
    url = dashboard_url(world.campaign)
    change = client.get(reverse("admin:evaluation_campaign_change", args=[world.campaign.pk])).content.decode()
    assert f'<li><a href="{url}">Tableau de bord</a></li>' in change
    changelist = client.get(reverse("admin:evaluation_campaign_changelist")).content.decode()
    assert f'<a href="{url}">Tableau de bord<span class="visually-hidden"> CAQES 2025</span></a>' in changelist


def test_the_policy_keeps_scripts_and_styles_to_the_sites_files(world, client_for):
    response = client_for(world.ars).get(dashboard_url(world.campaign))
    policy = dict(
        (directive.split(" ", 1) + [""])[:2] for directive in response["Content-Security-Policy"].split("; ")
    )
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["style-src-attr"].startswith("'unsafe-hashes' 'sha256-")
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    page = response.content.decode()
    assert '<script type="module" src="/static/vendor/dsfr-chart/DSFRChart' in page


# --- Queries ---------------------------------------------------------------------------------------------------


def test_the_queries_do_not_grow_with_the_contracts(client_for, region, other_region, django_assert_num_queries):
    w = CampaignWorld(region, other_region)
    day = datetime.timedelta(days=1)

    def add(n):
        for i in range(n):
            states = [State.AUTO_EVALUATION, State.CLOTUREE, State.EN_EVALUATION, None, State.PRE_CAMPAGNE]
            state = states[i % len(states)]
            self_evaluation = w.contract(
                ("31", "34")[i % 2], state, filled=i % 5, closed=w.at(w.deadline - (i % 4) * day), automatic=i % 3 == 0
            )
            if state is not None:
                w.notify(self_evaluation, NoticeKind.RELANCE_J7)
            if state == State.EN_EVALUATION:
                w.decide(self_evaluation, EvaluatingBody.ARS, 0)
                w.consolidate(self_evaluation, 0)

    client = client_for(w.ars)
    add(2)
    url = dashboard_url(w.campaign, departement="31")
    client.get(url)  # the session's and the TOTP's first reads
    with CaptureQueriesContext(connection) as two:
        assert client.get(url).status_code == 200
    add(18)
    assert Contract.objects.filter(ej__region=region).count() == 20
    with django_assert_num_queries(len(two.captured_queries)):
        response = client.get(url)
    assert sum(figures_shown(response)["states"].values()) == 10
