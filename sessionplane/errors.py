"""The domain error tree. Every error carries the stable Huawei error code it is reported with.

    SessionplaneError
    ├── InvalidParameter        DBS.200001   a request parameter is missing, mistyped or out of range
    ├── InvalidSessionId        DBS.301071   a session ID that is not a decimal integer
    ├── AuthenticationFailed    APIG.0301    no, malformed, tampered or expired credentials
    ├── TokenRevoked            APIG.0307    a token whose user was disabled, deleted or changed password
    ├── Forbidden               DBS.280032   authenticated but not allowed
    ├── InstanceNotFound        DBS.200002   no such instance in this project
    ├── NodeNotFound            DBS.200013   no such node in this project
    ├── NodeUnavailable         DBS.200018   node (or instance) not in a state that allows the operation
    ├── QuerySessionFailed      DBS.301076   the node answered, but listing failed there
    ├── KillSessionFailed       DBS.301077   the node answered, but closing failed there (or some nodes failed)
    ├── Throttled               APIG.0308    rate limited
    ├── TooManySessions         SP.0001      a close matches more sessions than the caller's expect_at_most
    ├── PayloadTooLarge         APIG.0201    the request body is over the size limit
    ├── RequestTimeout          APIG.0201    the request body did not arrive in time
    ├── RuleNotFound            SP.0101      no such close rule on this instance
    └── InternalError           DBS.200998   unexpected fault

No HTTP here: the edge maps each class to a status in one table (``sessionplane.api.errors``).
Messages are shown to clients, so they must never contain a secret.
"""

from __future__ import annotations

from typing import ClassVar


class SessionplaneError(Exception):
    code: ClassVar[str] = "DBS.200998"
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidParameter(SessionplaneError):
    code = "DBS.200001"
    default_message = "Invalid parameter."


class InvalidSessionId(SessionplaneError):
    code = "DBS.301071"
    default_message = "Invalid session id."


class AuthenticationFailed(SessionplaneError):
    code = "APIG.0301"
    default_message = "Incorrect IAM authentication information: x-auth-token not found"


class TokenRevoked(SessionplaneError):
    code = "APIG.0307"
    default_message = "The token must be updated."


class Forbidden(SessionplaneError):
    code = "DBS.280032"
    default_message = "Permission denied."


class InstanceNotFound(SessionplaneError):
    code = "DBS.200002"
    default_message = "The instance does not exist."


class NodeNotFound(SessionplaneError):
    code = "DBS.200013"
    default_message = "The node does not exist."


class NodeUnavailable(SessionplaneError):
    code = "DBS.200018"
    default_message = "The node status does not allow this operation."


class QuerySessionFailed(SessionplaneError):
    code = "DBS.301076"
    default_message = "Query session failed."


class KillSessionFailed(SessionplaneError):
    code = "DBS.301077"
    default_message = "Kill session failed."


class Throttled(SessionplaneError):
    code = "APIG.0308"
    default_message = "The throttling threshold has been reached."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds: the edge sends it as Retry-After


class TooManySessions(SessionplaneError):
    code = "SP.0001"
    default_message = "More sessions match than expect_at_most; nothing was closed."


class PayloadTooLarge(SessionplaneError):
    code = "APIG.0201"  # Huawei's API gateway: "Request entity too large." (413)
    default_message = "Request entity too large."


class RequestTimeout(SessionplaneError):
    code = "APIG.0201"  # the gateway's "API request error" family; Huawei publishes no code for a slow body
    default_message = "Request timeout: the request body did not arrive in time."


class RuleNotFound(SessionplaneError):
    code = "SP.0101"
    default_message = "The close rule does not exist."


class InternalError(SessionplaneError):
    code = "DBS.200998"
    default_message = "Internal error."
