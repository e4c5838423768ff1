"""The alerts HTTP API: one router per resource."""
