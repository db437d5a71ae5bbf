"""driftstream."""
