"""What one app instance holds: ``app.extensions["rair_cds"]``."""

from __future__ import annotations

from dataclasses import dataclass, field

from cds_hooks.auth import Authenticator, DestinationGuard
from cds_hooks.collector import CollectorPause
from cds_hooks.feedback_store import FeedbackStore
from cds_hooks.hook_call import CallSettings
from cds_hooks.registry import ServiceRegistry


@dataclass
class RairCdsState:
    """The loaded services and the per-app collaborators the endpoints use."""

    registry: ServiceRegistry
    feedback_store: FeedbackStore
    call_settings: CallSettings
    authenticator: Authenticator | None = None
    destination_guard: DestinationGuard | None = None
    audit_include_patient: bool = False
    collector_pause: CollectorPause = field(default_factory=lambda: CollectorPause(0))
