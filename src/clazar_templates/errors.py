"""The one shape of an error that names what the caller passed wrong."""

from __future__ import annotations

__all__ = ["FieldError"]


class FieldError(ValueError):
    """Bad input: ``field`` names it (an argument, an option, ``--region``...), ``message``
    says what is wrong and the accepted form. ``str()`` is ``"<field>: <message>"`` (just the
    message when no field is at fault, as for a refused publish)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
