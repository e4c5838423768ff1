"""``python -m tests.e2e.pinned_alerts``: the alerts service with its clock pinned, for e2e tests only.

``TEST_ALERTS_NOW`` (e.g. ``2026-10-20T12:00:00Z``) is the instant the service evaluates budgets at:
it picks the budget period and the point in the month the forecast projects from. Record timestamps
and retry times stay on the real clock. Production runs ``python -m services.alerts``, which has no
such setting.
"""

from __future__ import annotations

import os
from datetime import datetime

import uvicorn

from libs.common.logs import configure_logging
from services.alerts.app import create_app
from services.alerts.settings import get_settings

if __name__ == "__main__":
    pinned = datetime.fromisoformat(os.environ["TEST_ALERTS_NOW"].replace("Z", "+00:00"))
    if pinned.tzinfo is None:
        raise SystemExit("TEST_ALERTS_NOW needs a timezone, e.g. 2026-10-20T12:00:00Z")
    configure_logging("alerts")
    settings = get_settings()
    uvicorn.run(create_app(settings, clock=lambda: pinned), host=settings.host, port=settings.port,
                log_level="warning")
