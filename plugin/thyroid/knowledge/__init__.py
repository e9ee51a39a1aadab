"""The clinical knowledge: code lists, thresholds, card texts, rules and the built engine, loaded
once."""
