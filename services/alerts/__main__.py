"""``python -m services.alerts``: the alerts consumer, sweep and API on ``ALERTS_HOST``:``ALERTS_PORT``."""

import uvicorn

from libs.common.logs import configure_logging
from services.alerts.app import create_app
from services.alerts.settings import get_settings

if __name__ == "__main__":
    configure_logging("alerts")
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
