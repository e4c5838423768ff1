"""``python -m services.dashboard``: serve the dashboard on ``DASHBOARD_HOST``:``DASHBOARD_PORT``."""

from __future__ import annotations

import uvicorn

from services.dashboard.app import create_app
from services.dashboard.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False)


if __name__ == "__main__":
    main()
