"""Stage 4: patient-view cards rendered from the assessment."""
