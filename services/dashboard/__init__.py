"""The dashboard: server-rendered pages for the agency and a read-only portal for its clients.

A backend for the frontend: it owns no data and reads everything through the other
services' HTTP APIs (invoicing, alerts, pricing) with its own admin key. Pages are plain
HTML (Jinja2) with server-rendered SVG charts; no JavaScript build, nothing from a CDN.

- ``settings.py``: ports, URLs of the services, the signing secret.
- ``backend.py``: typed, defensive calls to the services' APIs.
- ``sessions.py``: admin sign-in cookie, CSRF tokens, portal links (itsdangerous).
- ``views.py``: page models from API data (pure functions, Decimal end to end).
- ``charts.py``: stacked bar chart as SVG.
- ``api/``: one router per page.
"""
