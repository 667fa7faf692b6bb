"""mamori: AWS Config custom rules and SSM Automation remediations, one decision in one place."""

__version__ = "0.1.0"
