"""Refused accesses, logged and (for another EJ's objects) audited, whatever the view that refused."""

from audit.enums import EventType
from audit.security import record_bounded_event, security_logger
from ecars.lib.http import client_ip, request_context
from ecars.lib.logs import log_safe, path_for_log
from ecars.lib.url_objects import find_refused_object, registered


REFUSED_STATUSES = {403, 404}


class RefusedAccessMiddleware:
    """Every 403 and 404 answered to a signed-in user is logged with who, from where and what (SECURITY.md F2).

    When the URL names an object that exists but that the user may not see (another EJ's contract, for
    instance), an `ACCESS_REFUSED` audit event is also recorded with that object's EJ, so that the ARS
    of its region sees the attempt. Those events are bounded per user (`record_bounded_event`): probing
    cannot turn into a flood of undeletable rows. The answer itself is unchanged (404 stays 404).
    """

    AUDIT_WINDOW = 60  # seconds: at most one audit event per user per minute, the others counted

    def __init__(self, get_response):
        self.get_response = get_response
        registered()  # import the apps' url_objects modules now: an error there shows at start-up

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in REFUSED_STATUSES:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                self._record(request, response, user)
        return response

    def _record(self, request, response, user):
        match = getattr(request, "resolver_match", None)
        refused = find_refused_object(user, match.kwargs) if match is not None and match.kwargs else None
        ip = client_ip(request)
        path = path_for_log(request, match)
        method = log_safe(request.method or "")
        extra = {
            "user_id": user.pk,
            "user_public_id": str(user.public_id),
            "client_ip": ip,
            "method": method,
            "path": path,
            "status": response.status_code,
        }
        if refused is None:
            security_logger.info(
                "access refused: status=%s user=%s ip=%s method=%s path=%s",
                response.status_code,
                user.public_id,
                ip,
                method,
                path,
                extra=extra,
            )
            return
        object_id = str(refused.obj.public_id)
        ej_id = str(refused.ej.public_id)
        security_logger.warning(
            "access refused to an object of another EJ: status=%s user=%s ip=%s method=%s path=%s object=%s:%s ej=%s",
            response.status_code,
            user.public_id,
            ip,
            method,
            path,
            refused.kwarg,
            object_id,
            ej_id,
            extra={**extra, "object": f"{refused.kwarg}:{object_id}", "ej_public_id": ej_id},
        )
        record_bounded_event(
            EventType.ACCESS_REFUSED,
            key=("user", user.pk),
            window=self.AUDIT_WINDOW,
            actor=user,
            ej=refused.ej,
            target=refused.obj,
            context=request_context(request),
            data={"method": method, "path": path, "status": response.status_code},
        )
