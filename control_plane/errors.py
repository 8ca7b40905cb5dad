"""Errors of the control plane; each becomes a GraphQL error carrying its `code`.

ControlPlaneError
 ├── NotFoundError          NOT_FOUND
 ├── InvalidInputError      INVALID_INPUT
 ├── UnauthenticatedError   UNAUTHENTICATED
 │    └── InvalidBearerTokenError  UNAUTHENTICATED  (identity/oidc.py)
 ├── ForbiddenError         FORBIDDEN
 │    └── PolicyDeniedError     POLICY_DENIED
 ├── ConfigurationError     CONFIGURATION
 ├── PolicyError            POLICY_INVALID
 └── VaultUnavailableError  VAULT_UNAVAILABLE
"""

from typing import Any


class ControlPlaneError(Exception):
    code = "INTERNAL"

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class NotFoundError(ControlPlaneError):
    code = "NOT_FOUND"


class InvalidInputError(ControlPlaneError):
    code = "INVALID_INPUT"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field}


class UnauthenticatedError(ControlPlaneError):
    code = "UNAUTHENTICATED"


class ForbiddenError(ControlPlaneError):
    """The principal is known but may not do this here."""

    code = "FORBIDDEN"


class PolicyDeniedError(ForbiddenError):
    """A policy refused the action; the message names each policy and its reason."""

    code = "POLICY_DENIED"


class ConfigurationError(ControlPlaneError):
    code = "CONFIGURATION"


class PolicyError(ControlPlaneError):
    """A policy module that cannot be loaded, compiled or evaluated.

    `module` names the module (or policy) at fault when one is known.
    """

    code = "POLICY_INVALID"

    def __init__(self, message: str, module: str | None = None) -> None:
        super().__init__(message)
        self.module = module


class VaultUnavailableError(ControlPlaneError):
    """Vault cannot be reached now; nothing was stored, and the same request may be tried
    again. The message says so without naming Vault's address (the log does)."""

    code = "VAULT_UNAVAILABLE"
