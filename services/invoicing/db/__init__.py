"""PostgreSQL for invoicing: issued invoices, credit notes, their numbers and per-client invoicing options."""
