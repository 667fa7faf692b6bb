"""A valid mamori:exempt end date for tests: 30 days from today (UTC, as the rules count),
within any MaxExemptionDays the pack allows (mamori.exemption)."""

import datetime

SOON = (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=30)).isoformat()
