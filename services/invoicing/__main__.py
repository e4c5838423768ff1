"""``python -m services.invoicing``: serve the API on ``INVOICING_HOST``:``INVOICING_PORT``."""

from __future__ import annotations

import uvicorn

from services.invoicing.app import create_app
from services.invoicing.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
