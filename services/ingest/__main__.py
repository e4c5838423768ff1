"""``python -m services.ingest``: the ingest API."""

import uvicorn

from libs.common.logs import configure_logging
from services.ingest.app import create_app
from services.ingest.settings import get_settings

if __name__ == "__main__":
    configure_logging("ingest")
    settings = get_settings()
    # uvloop and httptools come with uvicorn[standard] and are picked up by default. No access log
    # (at "warning" it printed nothing, but its arguments were still built per request); events are
    # counted by the metrics (tokentally_events_received/accepted/rejected).
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning", access_log=False)
