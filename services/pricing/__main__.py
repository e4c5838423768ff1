"""``python -m services.pricing``: the pricing consumer and its admin API."""

import uvicorn

from libs.common.logs import configure_logging
from services.pricing.app import create_app
from services.pricing.settings import get_settings

if __name__ == "__main__":
    configure_logging("pricing")
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
