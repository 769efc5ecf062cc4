"""The plan input: plan types and their key tables (parser, unit, default, range, help)."""
