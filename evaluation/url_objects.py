"""The URL arguments of the self-evaluation pages, for attributing refused accesses (ecars.lib.url_objects)."""

from ecars.lib.url_objects import register
from evaluation.models import SelfEvaluation


register("self_evaluation", SelfEvaluation, ej_field="contract__ej", visible_to=SelfEvaluation.objects.for_user)
