"""Mapping engine (placeholder until the inbound-processing work lands)."""

from __future__ import annotations

from payloads_tui.domain.models import InboundPayload, OutboundPayload


def check_inbound_expressions(payload: InboundPayload, where: str) -> None:
    """Raise `ValidationError` for the first bad expression of an inbound payload."""


def check_outbound_expressions(payload: OutboundPayload, where: str) -> None:
    """Raise `ValidationError` for the first bad expression of an outbound payload."""
