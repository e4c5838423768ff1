"""Accounting exports: Xero and QuickBooks Online import files, and the codes lines map to."""
