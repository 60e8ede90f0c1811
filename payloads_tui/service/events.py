"""Service events, re-exported for the UI (which may not import the engine layer)."""

from payloads_tui.engine.events import (
    AuthRejected,
    ConfigChanged,
    Event,
    EventBus,
    JobChanged,
    JobsPruned,
    ServiceChanged,
)

__all__ = ["AuthRejected", "ConfigChanged", "Event", "EventBus", "JobChanged", "JobsPruned", "ServiceChanged"]
