import datetime
import uuid
from functools import cached_property

from django.conf import settings
from django.db import connections, models, transaction

from documents.models import documents_storage
from evaluation.enums import (
    AnswerLevel,
    EvaluatingBody,
    ExtensionStatus,
    FilledBy,
    NoticeKind,
    ObservationStatus,
    SelfEvaluationState,
    ValueType,
    Verdict,
)


class Referential(models.Model):
    """A versioned indicator tree for one contract type (a campaign uses exactly one)."""

    contract_type = models.ForeignKey(
        "contracts.ContractType", verbose_name="type de contrat", on_delete=models.PROTECT, related_name="referentials"
    )
    name = models.CharField("nom", max_length=200)
    version = models.PositiveSmallIntegerField("version", default=1)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    # Bumped by every change of one of its nodes (Node.save, Node.delete): the pages key their cached copy of
    # the tree's nodes on it (evaluation.tree.referential_nodes), so that an edit is seen at once everywhere.
    tree_version = models.PositiveIntegerField("version de l'arbre", default=0, editable=False)

    class Meta:
        verbose_name = "référentiel"
        verbose_name_plural = "référentiels"
        ordering = ["contract_type", "name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract_type", "name", "version"], name="evaluation_referential_unique_version"
            ),
        ]

    def __str__(self):
        return f"{self.name} (v{self.version})"


class NodeQuerySet(models.QuerySet):
    def indicators(self):
        return self.exclude(value_type="")

    def for_region(self, region_id):
        """National nodes, and the regional nodes of `region_id`: what a contract of that region answers."""
        return self.filter(models.Q(region__isnull=True) | models.Q(region_id=region_id))

    def to_fill_by_establishment(self):
        """The questions that count in the fill percentage."""
        return self.indicators().filter(filled_by=FilledBy.ETABLISSEMENT, required=True)


def _tree_changed(referential_ids):
    Referential.objects.filter(pk__in=referential_ids).update(tree_version=models.F("tree_version") + 1)


class Node(models.Model):
    """A node of a referential tree: an objective, a sub-objective, or (with a value type) an indicator.

    Codes are free strings (`1.1`, `1.1.1`, `1.1.1.a`); siblings are ordered by `position`.
    """

    referential = models.ForeignKey(
        Referential, verbose_name="référentiel", on_delete=models.CASCADE, related_name="nodes"
    )
    parent = models.ForeignKey(
        "self", verbose_name="parent", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    code = models.CharField("code", max_length=50)
    label = models.TextField("libellé")
    position = models.PositiveIntegerField("ordre", default=0)
    # Indicator fields: empty value_type means a grouping node (objective, sub-objective).
    value_type = models.CharField("type de valeur", max_length=10, choices=ValueType.choices, blank=True)
    unit = models.CharField("unité", max_length=30, blank=True)
    choices = models.JSONField(
        "choix possibles", default=list, blank=True, help_text="Pour une liste de choix : la liste des libellés."
    )
    default_target = models.CharField("cible par défaut", max_length=200, blank=True)
    filled_by = models.CharField(
        "renseigné par", max_length=20, choices=FilledBy.choices, default=FilledBy.ETABLISSEMENT
    )
    answer_level = models.CharField("niveau de réponse", max_length=2, choices=AnswerLevel.choices, default="ej")
    required = models.BooleanField("obligatoire", default=True)
    help_text = models.TextField("aide", blank=True)
    # Which bodies decide on this question once the self-evaluation is closed (the ARS by default).
    evaluated_by_ars = models.BooleanField("évaluée par l'ARS", default=True)
    evaluated_by_am = models.BooleanField("évaluée par l'Assurance Maladie", default=False)
    evaluated_by_omedit = models.BooleanField("évaluée par l'OMEDIT", default=False)
    # National nodes are the same for every region and changed by national administrators; a region's
    # agents add and change their own regional nodes, which only that region's contracts answer.
    region = models.ForeignKey(
        "contracts.Region",
        verbose_name="région",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="nodes",
        help_text="Vide pour un nœud national ; sinon, le nœud n'est posé qu'aux contrats de cette région.",
    )

    objects = NodeQuerySet.as_manager()

    class Meta:
        verbose_name = "nœud du référentiel"
        verbose_name_plural = "nœuds du référentiel"
        ordering = ["referential", "position"]
        constraints = [
            models.UniqueConstraint(fields=["referential", "code"], name="evaluation_node_unique_code"),
            models.CheckConstraint(
                condition=~models.Q(value_type=ValueType.LISTE) | ~models.Q(choices=[]),
                name="evaluation_node_list_has_choices",
                violation_error_message="Une liste de choix doit proposer au moins un choix.",
            ),
        ]

    def __str__(self):
        return f"{self.code} - {self.label}"

    def save(self, *args, **kwargs):
        """Save, and tell every process that the referential's tree changed (both referentials on a move)."""
        with transaction.atomic():
            previous = (
                Node.objects.filter(pk=self.pk).values_list("referential_id", flat=True).first() if self.pk else None
            )
            super().save(*args, **kwargs)
            _tree_changed({self.referential_id, previous} - {None})

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            referential_id = self.referential_id
            result = super().delete(*args, **kwargs)
            _tree_changed({referential_id})
            return result

    @property
    def is_indicator(self) -> bool:
        return bool(self.value_type)

    @property
    def is_filled_by_establishment(self) -> bool:
        """Whether the establishment answers this indicator (ARS, AM or OMEDIT answer the others)."""
        return self.filled_by == FilledBy.ETABLISSEMENT

    @property
    def is_national(self) -> bool:
        return self.region_id is None

    @property
    def evaluating_bodies(self) -> tuple[str, ...]:
        """The bodies that decide on this question, in the order ARS, AM, OMEDIT."""
        flags = (
            (EvaluatingBody.ARS, self.evaluated_by_ars),
            (EvaluatingBody.AM, self.evaluated_by_am),
            (EvaluatingBody.OMEDIT, self.evaluated_by_omedit),
        )
        return tuple(body for body, evaluates in flags if evaluates)


class Campaign(models.Model):
    """A yearly campaign of one contract type in one or several regions, with its calendar."""

    code = models.SlugField("code", max_length=50, unique=True)
    name = models.CharField("nom", max_length=200)
    contract_type = models.ForeignKey(
        "contracts.ContractType", verbose_name="type de contrat", on_delete=models.PROTECT, related_name="campaigns"
    )
    year = models.PositiveSmallIntegerField("année évaluée")
    referential = models.ForeignKey(
        Referential, verbose_name="référentiel", on_delete=models.PROTECT, related_name="campaigns"
    )
    regions = models.ManyToManyField("contracts.Region", verbose_name="régions", related_name="campaigns")
    precampaign_start = models.DateField("ouverture de la pré-campagne", null=True, blank=True)
    precampaign_end = models.DateField("fin de la pré-campagne", null=True, blank=True)
    self_assessment_start = models.DateField("ouverture de l'auto-évaluation")
    self_assessment_deadline = models.DateField("date limite de l'auto-évaluation")
    report_date = models.DateField("envoi du rapport d'évaluation", null=True, blank=True)
    contradictory_deadline = models.DateField("fin de la première période contradictoire", null=True, blank=True)

    class Meta:
        verbose_name = "campagne"
        verbose_name_plural = "campagnes"
        ordering = ["-year", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(self_assessment_deadline__gte=models.F("self_assessment_start")),
                name="evaluation_campaign_deadline_after_start",
                violation_error_message="La date limite de l'auto-évaluation précède son ouverture.",
            ),
            models.CheckConstraint(
                condition=models.Q(precampaign_start__isnull=True)
                | models.Q(precampaign_end__isnull=True)
                | models.Q(precampaign_end__gte=models.F("precampaign_start")),
                name="evaluation_campaign_precampaign_order",
                violation_error_message="La fin de la pré-campagne précède son ouverture.",
            ),
        ]

    def __str__(self):
        return self.name

    def is_precampaign_open(self, today: datetime.date) -> bool:
        return bool(self.precampaign_start and self.precampaign_end) and (
            self.precampaign_start <= today <= self.precampaign_end
        )


def _instance_from_row(model, row, offset, db):
    """The `model` instance whose concrete fields' columns are `row[offset:]`, and the offset past them: what
    Django's iterables do with a row, the backend's and the fields' converters applied (SQLite's dates and
    UUIDs, a JSON column's text)."""
    connection = connections[db]
    fields = model._meta.concrete_fields
    values = []
    for field, value in zip(fields, row[offset : offset + len(fields)], strict=True):
        column = field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            value = converter(value, column, connection)
        values.append(value)
    return model.from_db(db, [field.attname for field in fields], values), offset + len(fields)


class SelfEvaluationQuerySet(models.QuerySet):
    def for_user(self, user):
        """The self-evaluations of the contracts a user may see (`EntiteJuridique.objects.for_user`'s rule, as
        joins rather than nested subqueries: this runs at the start of every self-evaluation page), each with
        `member_role`, the user's role in its EJ (None for agency staff)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        if user.is_agency_staff:
            return self.filter(contract__ej__region_id=user.region_id).annotate(
                member_role=models.Value(None, output_field=models.CharField())
            )
        # One membership per user and EJ (contracts_membership_unique): the join adds no row.
        return self.filter(contract__ej__memberships__user=user).annotate(
            member_role=models.F("contract__ej__memberships__role")
        )

    def locked_for_member(self, public_id, user):
        """The self-evaluation of public id `public_id` if `user`, an establishment member, may see it, its row
        locked until the transaction ends (SELECT … FOR UPDATE OF the self-evaluation only), with its campaign, the
        campaign's referential, its contract and the contract's EJ, and `member_role`; None otherwise.

        `for_user(user).select_related("campaign__referential", "contract__ej").select_for_update(of=("self",))`,
        written in SQL because every save starts with it and Django's building and compiling of that five-table
        query cost 1.3 ms against 0.3 ms for the same statement run here (a save's budget is 6 ms). The rule is
        `for_user`'s for a member (tests/evaluation/test_locked_lookup.py compares both for every kind of user).
        """
        from contracts.models import Contract, EntiteJuridique, Membership

        chain = ((self.model, "se"), (Campaign, "campaign"), (Referential, "referential"), (Contract, "contract"))
        chain += ((EntiteJuridique, "ej"),)
        columns = ", ".join(
            f'{alias}."{field.column}"' for model, alias in chain for field in model._meta.concrete_fields
        )
        table = {alias: model._meta.db_table for model, alias in chain}
        public_id_field = self.model._meta.get_field("public_id")
        with connections[self.db].cursor() as cursor:
            cursor.execute(
                f'SELECT {columns}, membership."role" FROM "{table["se"]}" se '  # noqa: S608 - names from the models
                f'JOIN "{table["campaign"]}" campaign ON campaign."id" = se."campaign_id" '
                f'JOIN "{table["referential"]}" referential ON referential."id" = campaign."referential_id" '
                f'JOIN "{table["contract"]}" contract ON contract."id" = se."contract_id" '
                f'JOIN "{table["ej"]}" ej ON ej."id" = contract."ej_id" '
                f'JOIN "{Membership._meta.db_table}" membership '
                'ON membership."ej_id" = ej."id" AND membership."user_id" = %s '
                'WHERE se."public_id" = %s'
                # SQLite (the demo) has no row locks: its writes lock the whole database.
                + (" FOR UPDATE OF se" if cursor.db.features.has_select_for_update_of else ""),
                [user.pk, public_id_field.get_db_prep_value(public_id_field.to_python(public_id), cursor.db)],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        instances, offset = [], 0
        for model, _alias in chain:
            instance, offset = _instance_from_row(model, row, offset, self.db)
            instances.append(instance)
        found, campaign, referential, contract, ej = instances
        Campaign.referential.field.set_cached_value(campaign, referential)
        self.model.campaign.field.set_cached_value(found, campaign)
        Contract.ej.field.set_cached_value(contract, ej)
        self.model.contract.field.set_cached_value(found, contract)
        found.member_role = row[offset]
        return found

    def latest_first(self):
        """The current self-evaluation of a contract is the one of its latest campaign."""
        return self.order_by("-campaign__year", "-campaign__self_assessment_start", "-pk")


class SelfEvaluation(models.Model):
    """The self-evaluation of one contract in one campaign.

    `state` is the single source of truth of the lifecycle; it only changes through
    `evaluation.services.transition`, which writes a `Transition` row.
    """

    public_id = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(
        "contracts.Contract", verbose_name="contrat", on_delete=models.PROTECT, related_name="self_evaluations"
    )
    campaign = models.ForeignKey(
        Campaign, verbose_name="campagne", on_delete=models.PROTECT, related_name="self_evaluations"
    )
    state = models.CharField(
        "état", max_length=20, choices=SelfEvaluationState.choices, default=SelfEvaluationState.PRE_CAMPAGNE
    )
    contradictory_round = models.PositiveSmallIntegerField("période contradictoire n°", default=0)
    contradictory_deadline = models.DateField(
        "fin de la période contradictoire en cours",
        null=True,
        blank=True,
        help_text="Après cette date, l'établissement ne peut plus présenter d'observations.",
    )
    incentive_amount = models.DecimalField(
        "montant de l'intéressement (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Saisi par l'ARS, jamais calculé.",
    )
    extended_until = models.DateField(
        "prolongation accordée jusqu'au", null=True, blank=True, help_text="Report de la date limite pour cette EJ."
    )
    closed_at = models.DateTimeField("clôturée le", null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="clôturée par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    objects = SelfEvaluationQuerySet.as_manager()

    class Meta:
        verbose_name = "auto-évaluation"
        verbose_name_plural = "auto-évaluations"
        ordering = ["-campaign__year", "contract"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "campaign"], name="evaluation_selfevaluation_unique"),
            models.CheckConstraint(
                condition=~models.Q(state__in=SelfEvaluationState.closed_states()) | models.Q(closed_at__isnull=False),
                name="evaluation_selfevaluation_closed_has_date",
                violation_error_message="Une auto-évaluation clôturée doit avoir une date de clôture.",
            ),
        ]

    def __str__(self):
        return f"{self.contract} — {self.campaign}"

    @property
    def is_closed(self) -> bool:
        return self.state in SelfEvaluationState.closed_states()

    @property
    def deadline(self) -> datetime.date:
        """The last day of writing: the campaign's deadline, or this EJ's extension if later."""
        if self.extended_until and self.extended_until > self.campaign.self_assessment_deadline:
            return self.extended_until
        return self.campaign.self_assessment_deadline

    def is_open_on(self, today: datetime.date) -> bool:
        """Whether the establishment may write on `today`: the self-evaluation is in progress and the
        calendar (with this EJ's extension) allows it."""
        return (
            self.state == SelfEvaluationState.AUTO_EVALUATION
            and self.campaign.self_assessment_start <= today <= self.deadline
        )

    def is_contestable_on(self, today: datetime.date) -> bool:
        """Whether the establishment may present observations on `today`: a période contradictoire is open
        and its deadline not passed."""
        return (
            self.state == SelfEvaluationState.CONTRADICTOIRE
            and self.contradictory_deadline is not None
            and today <= self.contradictory_deadline
        )

    def days_left(self, today: datetime.date) -> int:
        return (self.deadline - today).days

    @cached_property
    def contract_years(self) -> list[int]:
        """The campaign years of the contract's self-evaluations, this one's included (one query, kept)."""
        return list(
            SelfEvaluation.objects.filter(contract_id=self.contract_id).values_list("campaign__year", flat=True)
        )

    def is_current(self) -> bool:
        """Whether this is the contract's self-evaluation of its latest campaign (not an earlier year)."""
        return not any(year > self.campaign.year for year in self.contract_years)

    def has_earlier_years(self) -> bool:
        """Whether the contract had self-evaluations in earlier campaigns (« Années précédentes »)."""
        return any(year < self.campaign.year for year in self.contract_years)


class Evaluation(SelfEvaluation):
    """A self-evaluation as the evaluators see it in the admin (« Évaluations »): its list, « Évaluer »,
    the consolidation and the reports. The same rows; its own pages and powers (ecars/privileges.py)."""

    class Meta:
        proxy = True
        verbose_name = "évaluation"
        verbose_name_plural = "évaluations"


class Transition(models.Model):
    """One change of state of a self-evaluation: who, when, from, to, why. Append-only."""

    self_evaluation = models.ForeignKey(
        SelfEvaluation, verbose_name="auto-évaluation", on_delete=models.PROTECT, related_name="transitions"
    )
    from_state = models.CharField("état de départ", max_length=20, choices=SelfEvaluationState.choices)
    to_state = models.CharField("état d'arrivée", max_length=20, choices=SelfEvaluationState.choices)
    # RESTRICT-like: the log must keep its author even if the account is deactivated.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Vide pour une opération automatique.",
    )
    reason = models.TextField("motif", blank=True)
    created_at = models.DateTimeField("le", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "changement d'état"
        verbose_name_plural = "changements d'état"
        ordering = ["self_evaluation", "created_at", "id"]

    def __str__(self):
        return f"{self.get_from_state_display()} → {self.get_to_state_display()}"


class IndicatorValueQuerySet(models.QuerySet):
    def filled(self):
        return self.filter(models.Q(not_applicable=True) | ~models.Q(value=""))

    def answered(self):
        """Filled, or saved at least once (even emptied since): what an answer's history rests on."""
        return self.filter(models.Q(not_applicable=True) | ~models.Q(value="") | models.Q(version__gt=1))

    def locked(self, *, self_evaluation_id: int, indicator_id: int, et_finess: str | None = None):
        """The value of one question of a self-evaluation (of the ET of FINESS `et_finess`, if given: an ET-level
        question), its row locked until the transaction ends (SELECT … FOR UPDATE), or None. Its ET, if any, is
        read when asked.

        Every save reads it so (the question page's POST): written in SQL because Django's compiling of the same
        query costs twice what PostgreSQL takes to run it (0.79 against 0.26 ms in all; a save's budget is 6 ms).
        """
        fields = self.model._meta.concrete_fields
        columns = ", ".join(f'value."{field.column}"' for field in fields)
        if et_finess:
            et_table = self.model.etablissement.field.related_model._meta.db_table
            condition = f'value."etablissement_id" = (SELECT et."id" FROM "{et_table}" et WHERE et."finess" = %s)'  # noqa: S608
            params = [et_finess]
        else:
            condition, params = 'value."etablissement_id" IS NULL', []
        # SQLite (the demo) has no row locks: its writes lock the whole database.
        lock = " FOR UPDATE" if connections[self.db].features.has_select_for_update else ""
        found = list(
            self.raw(
                f'SELECT {columns} FROM "{self.model._meta.db_table}" value '  # noqa: S608 - names from the model
                f'WHERE value."self_evaluation_id" = %s AND value."indicator_id" = %s AND {condition}{lock}',
                [self_evaluation_id, indicator_id, *params],
            )
        )
        return found[0] if found else None


class IndicatorValue(models.Model):
    """The answer to one indicator in one self-evaluation, for the EJ (etablissement empty) or one ET.

    Values are stored as canonical text (`1`/`0` for oui/non, `12.5` for numbers, ISO dates); the
    indicator's value type says how to read them. `version` implements optimistic locking: a save
    only applies to the version the user saw.
    """

    self_evaluation = models.ForeignKey(
        SelfEvaluation, verbose_name="auto-évaluation", on_delete=models.PROTECT, related_name="values"
    )
    indicator = models.ForeignKey(Node, verbose_name="indicateur", on_delete=models.PROTECT, related_name="values")
    etablissement = models.ForeignKey(
        "contracts.Etablissement",
        verbose_name="établissement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="indicator_values",
        help_text="Vide quand l'indicateur est renseigné pour l'entité juridique.",
    )
    target = models.CharField("cible", max_length=200, blank=True)
    value = models.TextField("réalisé", blank=True)
    not_applicable = models.BooleanField("non concerné", default=False)
    not_applicable_reason = models.TextField("justification de « non concerné »", blank=True)
    comment = models.TextField("commentaire de l'établissement", blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="confiée à",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_values",
    )
    version = models.PositiveIntegerField("version", default=1)
    # The same question's answer in the contract's previous campaign, linked when the campaign is opened in bulk
    # (evaluation.campaigns): what the establishment and the evaluators read « pour mémoire ».
    previous = models.ForeignKey(
        "self",
        verbose_name="réponse de la campagne précédente",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField("modifié le", auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="modifié par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = IndicatorValueQuerySet.as_manager()

    class Meta:
        verbose_name = "valeur d'indicateur"
        verbose_name_plural = "valeurs d'indicateurs"
        ordering = ["self_evaluation", "indicator__position", "etablissement"]
        constraints = [
            # One value per self-evaluation × EJ × indicator, and per self-evaluation × ET × indicator.
            models.UniqueConstraint(
                fields=["self_evaluation", "indicator"],
                condition=models.Q(etablissement__isnull=True),
                name="evaluation_value_unique_for_ej",
            ),
            models.UniqueConstraint(
                fields=["self_evaluation", "indicator", "etablissement"],
                condition=models.Q(etablissement__isnull=False),
                name="evaluation_value_unique_for_et",
            ),
            models.CheckConstraint(
                condition=models.Q(not_applicable=False) | ~models.Q(not_applicable_reason=""),
                name="evaluation_value_not_applicable_justified",
                violation_error_message="« Non concerné » doit être justifié.",
            ),
        ]

    def __str__(self):
        return f"{self.indicator.code} — {self.self_evaluation}"

    @property
    def is_filled(self) -> bool:
        return self.not_applicable or self.value != ""


class IndicatorValueHistory(models.Model):
    """One saved change of an indicator value: the fields changed (old → new), who, when. Append-only."""

    indicator_value = models.ForeignKey(
        IndicatorValue, verbose_name="valeur", on_delete=models.PROTECT, related_name="history"
    )
    version = models.PositiveIntegerField("version")
    changes = models.JSONField("modifications", help_text="Pour chaque champ : [ancienne valeur, nouvelle valeur].")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="par", on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        verbose_name = "historique de valeur"
        verbose_name_plural = "historiques de valeurs"
        ordering = ["indicator_value", "version"]
        constraints = [
            models.UniqueConstraint(fields=["indicator_value", "version"], name="evaluation_history_unique_version"),
        ]

    def __str__(self):
        return f"{self.indicator_value} v{self.version}"


class ExtensionRequest(models.Model):
    """An establishment's request to write after the campaign's deadline; the ARS grants or refuses it."""

    self_evaluation = models.ForeignKey(
        SelfEvaluation, verbose_name="auto-évaluation", on_delete=models.PROTECT, related_name="extension_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="demandée par", on_delete=models.PROTECT, related_name="+"
    )
    requested_until = models.DateField("prolongation demandée jusqu'au")
    reason = models.TextField("motif de la demande")
    created_at = models.DateTimeField("demandée le", auto_now_add=True)
    status = models.CharField(
        "décision", max_length=20, choices=ExtensionStatus.choices, default=ExtensionStatus.EN_ATTENTE
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="décidée par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField("décidée le", null=True, blank=True)
    decision_reason = models.TextField("motif de la décision", blank=True)

    class Meta:
        verbose_name = "demande de prolongation"
        verbose_name_plural = "demandes de prolongation"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["self_evaluation"],
                condition=models.Q(status=ExtensionStatus.EN_ATTENTE),
                name="evaluation_extension_one_pending",
                violation_error_message="Une demande de prolongation est déjà en attente.",
            ),
            models.CheckConstraint(
                condition=models.Q(status=ExtensionStatus.EN_ATTENTE) | models.Q(decided_at__isnull=False),
                name="evaluation_extension_decided_has_date",
            ),
        ]

    def __str__(self):
        return f"Prolongation jusqu'au {self.requested_until:%d/%m/%Y} — {self.self_evaluation}"


def receipt_key(instance, filename):
    return f"receipts/{uuid.uuid4()}.pdf"


class ClosureReceipt(models.Model):
    """The « attestation de clôture » (PDF) of a closure: who, when, the figures, the answers' SHA-256."""

    self_evaluation = models.ForeignKey(
        SelfEvaluation, verbose_name="auto-évaluation", on_delete=models.PROTECT, related_name="receipts"
    )
    file = models.FileField("attestation", storage=documents_storage, upload_to=receipt_key, max_length=255)
    answers_sha256 = models.CharField("empreinte SHA-256 des réponses", max_length=64)
    file_sha256 = models.CharField("empreinte SHA-256 du fichier", max_length=64)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="clôturée par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Vide pour une clôture d'office, à la date limite (manage.py close_overdue).",
    )
    closed_at = models.DateTimeField("clôturée le")
    filled = models.PositiveIntegerField("questions saisies")
    total = models.PositiveIntegerField("questions à saisir")

    class Meta:
        verbose_name = "attestation de clôture"
        verbose_name_plural = "attestations de clôture"
        ordering = ["-closed_at"]

    def __str__(self):
        return f"Attestation de clôture du {self.closed_at:%d/%m/%Y %H:%M} — {self.self_evaluation}"


class Attachment(models.Model):
    """A document listed under a question. Withdrawing hides it from the list; nothing is deleted."""

    document = models.ForeignKey(
        "documents.Document", verbose_name="document", on_delete=models.PROTECT, related_name="attachments"
    )
    indicator_value = models.ForeignKey(
        IndicatorValue, verbose_name="question", on_delete=models.PROTECT, related_name="attachments"
    )
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="joint par", on_delete=models.PROTECT, related_name="+"
    )
    attached_at = models.DateTimeField("joint le", auto_now_add=True)
    withdrawn_at = models.DateTimeField("retiré le", null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="retiré par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "pièce jointe à une question"
        verbose_name_plural = "pièces jointes aux questions"
        ordering = ["indicator_value", "attached_at"]
        constraints = [
            models.UniqueConstraint(fields=["document", "indicator_value"], name="evaluation_attachment_unique"),
            models.CheckConstraint(
                condition=models.Q(withdrawn_at__isnull=True) | models.Q(withdrawn_by__isnull=False),
                name="evaluation_attachment_withdrawn_by",
            ),
        ]

    def __str__(self):
        return f"{self.document} → {self.indicator_value}"


# --- Evaluation by the ARS, the Assurance Maladie and the OMEDIT (DESIGN.md §3–4) ---------------------

# A motivation is owed to the establishment for any verdict but « Atteint ».
_MOTIVATED = models.Q(verdict=Verdict.ATTEINT) | ~models.Q(motivation="")


class Decision(models.Model):
    """One evaluating body's decision on one answer (question × EJ or ET) of a self-evaluation.

    The motivation is for the establishment, once consolidated; the private note never leaves the agencies.
    `version` implements optimistic locking, as for answers.
    """

    value = models.ForeignKey(
        IndicatorValue, verbose_name="réponse", on_delete=models.PROTECT, related_name="decisions"
    )
    body = models.CharField("instance", max_length=10, choices=EvaluatingBody.choices)
    verdict = models.CharField("décision", max_length=25, choices=Verdict.choices)
    motivation = models.TextField("motivation (visible par l'établissement)", blank=True)
    private_note = models.TextField("note interne (jamais visible par l'établissement)", blank=True)
    version = models.PositiveIntegerField("version", default=1)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="décidée par", on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField("décidée le")

    class Meta:
        verbose_name = "décision d'une instance"
        verbose_name_plural = "décisions des instances"
        ordering = ["value_id", "body"]
        constraints = [
            models.UniqueConstraint(fields=["value", "body"], name="evaluation_decision_one_per_body"),
            models.CheckConstraint(
                condition=_MOTIVATED,
                name="evaluation_decision_motivated",
                violation_error_message="Une motivation est obligatoire, sauf pour « Atteint ».",
            ),
        ]

    def __str__(self):
        return f"{self.get_body_display()} : {self.get_verdict_display()} — {self.value}"


class Consolidation(models.Model):
    """The consolidated decision on one answer, recorded by the ARS: what the establishment reads in the report.

    Frozen once a report is sent, except by the answer to an observation (`evaluation.contradictory`).
    """

    value = models.OneToOneField(
        IndicatorValue, verbose_name="réponse", on_delete=models.PROTECT, related_name="consolidation"
    )
    verdict = models.CharField("décision consolidée", max_length=25, choices=Verdict.choices)
    motivation = models.TextField("motivation (visible par l'établissement)", blank=True)
    private_note = models.TextField("note interne (jamais visible par l'établissement)", blank=True)
    version = models.PositiveIntegerField("version", default=1)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="consolidée par", on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField("consolidée le")

    class Meta:
        verbose_name = "décision consolidée"
        verbose_name_plural = "décisions consolidées"
        ordering = ["value_id"]
        constraints = [
            models.CheckConstraint(
                condition=_MOTIVATED,
                name="evaluation_consolidation_motivated",
                violation_error_message="Une motivation est obligatoire, sauf pour « Atteint ».",
            ),
        ]

    def __str__(self):
        return f"{self.get_verdict_display()} — {self.value}"


def report_key(instance, filename):
    return f"reports/{uuid.uuid4()}.pdf"


class Report(models.Model):
    """A version of the evaluation report (PDF of the consolidated decisions). Never overwritten: each new
    version is a new row and a new file. `read_at`/`read_by`: the first download by an establishment user."""

    self_evaluation = models.ForeignKey(
        SelfEvaluation, verbose_name="auto-évaluation", on_delete=models.PROTECT, related_name="reports"
    )
    version = models.PositiveSmallIntegerField("version")
    final = models.BooleanField("rapport définitif", default=False)
    file = models.FileField("rapport", storage=documents_storage, upload_to=report_key, max_length=255)
    file_sha256 = models.CharField("empreinte SHA-256 du fichier", max_length=64)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="généré par", on_delete=models.PROTECT, related_name="+"
    )
    generated_at = models.DateTimeField("généré le")
    sent_at = models.DateTimeField("envoyé le", null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="envoyé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    read_at = models.DateTimeField("lu le", null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="lu par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "rapport d'évaluation"
        verbose_name_plural = "rapports d'évaluation"
        ordering = ["self_evaluation_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["self_evaluation", "version"], name="evaluation_report_unique_version"),
            models.CheckConstraint(
                condition=models.Q(sent_at__isnull=True) | models.Q(sent_by__isnull=False),
                name="evaluation_report_sent_by",
            ),
            models.CheckConstraint(
                condition=models.Q(read_at__isnull=True) | models.Q(read_by__isnull=False),
                name="evaluation_report_read_by",
            ),
        ]

    def __str__(self):
        kind = "définitif" if self.final else "d'évaluation"
        return f"Rapport {kind} v{self.version} — {self.self_evaluation}"


class ContradictoryRound(models.Model):
    """A période contradictoire: its number, its deadline, and when the establishment sent its observations."""

    self_evaluation = models.ForeignKey(
        SelfEvaluation, verbose_name="auto-évaluation", on_delete=models.PROTECT, related_name="contradictory_rounds"
    )
    number = models.PositiveSmallIntegerField("période contradictoire n°")
    deadline = models.DateField("date limite des observations")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="ouverte par", on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField("ouverte le")
    observations_sent_at = models.DateTimeField("observations envoyées le", null=True, blank=True)
    observations_sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="observations envoyées par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "période contradictoire"
        verbose_name_plural = "périodes contradictoires"
        ordering = ["self_evaluation_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["self_evaluation", "number"], name="evaluation_round_unique_number"),
        ]

    def __str__(self):
        return f"Période contradictoire n° {self.number} — {self.self_evaluation}"


class Observation(models.Model):
    """« Contester »: the establishment's observation on the consolidated decision of one answer, in one round,
    with its documents; then the evaluators' answer (and, if revised, the new consolidated decision)."""

    round = models.ForeignKey(
        ContradictoryRound,
        verbose_name="période contradictoire",
        on_delete=models.PROTECT,
        related_name="observations",
    )
    value = models.ForeignKey(
        IndicatorValue, verbose_name="réponse", on_delete=models.PROTECT, related_name="observations"
    )
    text = models.TextField("observations")
    status = models.CharField(
        "état", max_length=10, choices=ObservationStatus.choices, default=ObservationStatus.BROUILLON
    )
    version = models.PositiveIntegerField("version", default=1)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="rédigée par", on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    sent_at = models.DateTimeField("envoyée le", null=True, blank=True)
    answer = models.TextField("réponse à l'observation", blank=True)
    # The verdict the answer set, or empty when the decision was maintained.
    revised_verdict = models.CharField("décision révisée", max_length=25, choices=Verdict.choices, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="réponse de",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    answered_at = models.DateTimeField("répondue le", null=True, blank=True)

    class Meta:
        verbose_name = "observation"
        verbose_name_plural = "observations"
        ordering = ["round_id", "value_id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "value"], name="evaluation_observation_one_per_round"),
            models.CheckConstraint(
                condition=models.Q(status=ObservationStatus.BROUILLON) | models.Q(sent_at__isnull=False),
                name="evaluation_observation_sent_at",
            ),
            models.CheckConstraint(
                condition=models.Q(answered_at__isnull=True)
                | (models.Q(answered_by__isnull=False) & ~models.Q(answer="")),
                name="evaluation_observation_answered",
            ),
        ]

    def __str__(self):
        return f"Observation sur {self.value}"


class ObservationDocument(models.Model):
    """A document added to an observation (validated and stored like any other document)."""

    observation = models.ForeignKey(
        Observation, verbose_name="observation", on_delete=models.PROTECT, related_name="documents"
    )
    document = models.ForeignKey(
        "documents.Document", verbose_name="document", on_delete=models.PROTECT, related_name="observations"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="ajouté par", on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField("ajouté le", auto_now_add=True)

    class Meta:
        verbose_name = "document d'une observation"
        verbose_name_plural = "documents des observations"
        ordering = ["observation_id", "added_at"]
        constraints = [
            models.UniqueConstraint(fields=["observation", "document"], name="evaluation_observation_document_unique"),
        ]

    def __str__(self):
        return f"{self.document} → {self.observation}"


class Notice(models.Model):
    """One e-mail of a campaign's calendar queued for one person about one self-evaluation: the opening, the
    reminders J-30, J-7 and J-1, the clôture d'office, the evaluators' reminders. Recorded in the transaction that
    queues it, unique per self-evaluation, kind, person and deadline, so that none is ever sent twice (a new
    deadline, after an extension or in a new période contradictoire, is a new reminder). Append-only."""

    self_evaluation = models.ForeignKey(
        SelfEvaluation, verbose_name="auto-évaluation", on_delete=models.PROTECT, related_name="notices"
    )
    kind = models.CharField("courriel", max_length=30, choices=NoticeKind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="destinataire", on_delete=models.PROTECT, related_name="+"
    )
    deadline = models.DateField("échéance annoncée")
    queued_at = models.DateTimeField("envoyé le", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "courriel du calendrier"
        verbose_name_plural = "courriels du calendrier"
        ordering = ["-queued_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["self_evaluation", "kind", "recipient", "deadline"], name="evaluation_notice_once"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.recipient} — {self.self_evaluation}"
