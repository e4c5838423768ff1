"""``python -m services.aggregator``: the aggregator (Kafka consumer) with ``/metrics`` and ``/health``."""

import uvicorn

from libs.common.logs import configure_logging
from services.aggregator.app import create_app
from services.aggregator.settings import get_settings

if __name__ == "__main__":
    configure_logging("aggregator")
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
