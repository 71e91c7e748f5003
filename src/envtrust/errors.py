"""The one exception tree of envtrust.

::

    EnvtrustError                   program or input problems that stop an operation
    ├── AccountError                a bad account request (unknown role, missing scope, weak password, no such user)
    ├── AlarmError                  an alarm action that the alarm's state does not allow (unknown alarm, ack twice)
    ├── AuthError                   a login or token that does not authenticate (or too many failed attempts)
    ├── ConfigError                 bad settings or command-line values
    ├── RegistryError               a registry file that cannot be loaded (carries the line/point)
    ├── ImportFormatError           an import file that cannot be read at all (bad lines are reported, not raised)
    ├── NotifyError                 a notification channel could not deliver an alarm notice (HTTP status, retryable)
    ├── RecordError                 a quality record refused by a rule (expired lot, unknown analyser …; code, status)
    └── StoreError                  the database refused or is unreachable
        └── SchemaError             the database schema is not what this version expects

Data problems are not exceptions: a malformed frame is a :class:`envtrust.hj212.FrameError` value (with the
HJ 212 reply it implies) that ends up in quarantine; a suspicious number is a finding.
"""

from __future__ import annotations


class EnvtrustError(Exception):
    """Base of every error envtrust raises on purpose."""


class AccountError(EnvtrustError):
    pass


class AlarmError(EnvtrustError):
    pass


class AuthError(EnvtrustError):
    pass


class ConfigError(EnvtrustError):
    pass


class RegistryError(EnvtrustError):
    pass


class ImportFormatError(EnvtrustError):
    pass


class NotifyError(EnvtrustError):
    """A notification channel (webhook, e-mail) could not deliver a notice.

    ``status`` is the HTTP status or SMTP reply code when the other side answered, else ``None``;
    ``retryable`` is false when trying again cannot help or would deliver twice (a 4xx answer, a refused
    recipient, a failed login), so the notifier gives up at once.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class StoreError(EnvtrustError):
    pass


class SchemaError(StoreError):
    pass


class RecordError(EnvtrustError):
    """A quality record refused by a rule (an expired reference lot, an unknown analyser, an incomplete comparison
    run …): ``code`` names the rule for machines, ``status`` the HTTP status the API answers with, and the message
    says it in Chinese and English (``中文 | English``)."""

    # codes of malformed input (400); every other code is a rule refusing well-formed input (422) unless given
    INPUT_CODES = frozenset(
        {
            "bad_value",
            "bad_date",
            "bad_time",
            "bad_span",
            "bad_range",
            "bad_kind",
            "bad_who",
            "missing",
            "bad_pair",
            "bad_ref",
            "bad_region",
            "bad_coordinate",
        }
    )

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status if status is not None else 400 if code in self.INPUT_CODES else 422
