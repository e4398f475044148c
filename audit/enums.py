from django.db import models


class EventType(models.TextChoices):
    """Business and security events, grouped by prefix."""

    # Authentication and accounts
    LOGIN_SUCCEEDED = "auth.login", "connexion réussie"
    LOGIN_FAILED = "auth.login_failed", "échec de connexion"
    LOGOUT = "auth.logout", "déconnexion"
    LOGIN_THROTTLED = "auth.throttled", "tentatives limitées"
    PASSWORD_CHANGED = "auth.password_changed", "mot de passe modifié"
    PASSWORD_RESET = "auth.password_reset", "mot de passe renouvelé"
    RESET_CODE_SENT = "auth.reset_code_sent", "code de vérification envoyé"
    RESET_CODE_REJECTED = "auth.reset_code_rejected", "code de vérification refusé"
    EMAIL_CHANGED = "auth.email_changed", "adresse de messagerie modifiée"
    TOTP_ACTIVATED = "auth.totp_activated", "double authentification activée"
    TOTP_DEACTIVATED = "auth.totp_deactivated", "double authentification désactivée"
    INVITATION_SENT = "auth.invitation_sent", "invitation envoyée"
    INVITATION_ACCEPTED = "auth.invitation_accepted", "invitation acceptée"
    SESSION_ENDED = "auth.session_ended", "session terminée"
    ACCOUNT_CHANGED = "auth.account_changed", "compte modifié par un agent"
    LOGIN_POLICY_CHANGED = "auth.login_policy_changed", "règles de connexion modifiées"
    ACCESS_REFUSED = "security.access_refused", "accès refusé"
    # Memberships and reference data
    MEMBER_ADDED = "ej.member_added", "membre ajouté"
    MEMBER_REMOVED = "ej.member_removed", "membre retiré"
    MEMBER_ROLE_CHANGED = "ej.member_role_changed", "rôle d'un membre modifié"
    IDENTIFICATION_VALIDATED = "ej.identification_validated", "données d'identification validées"
    # Self-evaluation
    STATE_CHANGED = "evaluation.state_changed", "changement d'état"
    VALUE_SAVED = "evaluation.value_saved", "valeur enregistrée"
    QUESTIONS_ASSIGNED = "evaluation.questions_assigned", "questions confiées"
    WRITE_REFUSED = "evaluation.write_refused", "écriture refusée"
    EXTENSION_REQUESTED = "evaluation.extension_requested", "prolongation demandée"
    EXTENSION_DECIDED = "evaluation.extension_decided", "décision sur une prolongation"
    DECISION_RECORDED = "evaluation.decision_recorded", "décision d'une instance enregistrée"
    CONSOLIDATION_RECORDED = "evaluation.consolidation_recorded", "décision consolidée enregistrée"
    INCENTIVE_SET = "evaluation.incentive_set", "montant de l'intéressement enregistré"
    REPORT_GENERATED = "evaluation.report_generated", "rapport d'évaluation généré"
    REPORT_SENT = "evaluation.report_sent", "rapport d'évaluation envoyé"
    REPORT_READ = "evaluation.report_read", "rapport d'évaluation lu"
    OBSERVATION_SAVED = "evaluation.observation_saved", "observation enregistrée"
    OBSERVATIONS_SENT = "evaluation.observations_sent", "observations envoyées"
    OBSERVATION_ANSWERED = "evaluation.observation_answered", "réponse à une observation"
    # Documents
    DOCUMENT_UPLOADED = "document.uploaded", "document déposé"
    DOCUMENT_REJECTED = "document.rejected", "document refusé"
    DOCUMENT_ATTACHED = "document.attached", "document joint à une question"
    DOCUMENT_WITHDRAWN = "document.withdrawn", "document retiré"
    DOCUMENT_INFECTED = "document.infected", "document infecté"
    # Operations
    COMMAND_RUN = "ops.command", "commande d'exploitation"
