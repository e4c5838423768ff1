"""HTTP routers, one per resource: ``clients`` and ``invoices``."""
