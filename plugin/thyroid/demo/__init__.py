"""The demo EHR page: its blueprint, the record summary and the static files."""
