"""BrightKitchen: CLI, settings and the embedded stack."""
