"""Stage 3: the rule engine's conclusions turned into one assessment."""
