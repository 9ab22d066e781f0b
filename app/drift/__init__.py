"""``insight monitor drift``: captured production traffic against each version's reference
profile (docs/monitoring.md, "Drift")."""
