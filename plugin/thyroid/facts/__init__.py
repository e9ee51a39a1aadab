"""Stage 2: the derivation (computed once per evaluation) and the facts the rules read."""
