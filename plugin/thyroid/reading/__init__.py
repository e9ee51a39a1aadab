"""Stage 1: reading FHIR R4 resources into the clinical record (plugin.thyroid.clinical_model)."""
