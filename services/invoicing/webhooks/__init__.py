"""Outbound webhooks (Standard Webhooks): endpoint registry, signed delivery with retries."""
