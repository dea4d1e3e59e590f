"""The time bank's listener on verified visits, registered with the EVV service.

Imported by the application factory's blueprints (``app.api.timebank``) and the CLI, so
every process that can verify a visit has it. It runs inside the EVV unit of work, before
its commit: the credit (and the redemption's post) commit with the verification or not
at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Visit, VisitVerification
from app.services import evv_events
from app.services.timebank import earn_for_verification
from app.services.timebank_redemption import complete_for_visit


@evv_events.on_visit_verified
def on_visit_verified(session: Session, visit: Visit, verification: VisitVerification) -> Any:
    """Credit the volunteer of ``verification``; post the visit's redemption hold if any."""
    earn_for_verification(session, visit, verification)
    complete_for_visit(session, visit)
