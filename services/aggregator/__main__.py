"""``python -m services.aggregator``: run the aggregator until SIGTERM."""

import asyncio

from libs.common.logs import configure_logging
from services.aggregator.app import create_app

if __name__ == "__main__":
    configure_logging("aggregator")
    asyncio.run(create_app().run())
