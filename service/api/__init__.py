"""HTTP layer: thin Flask blueprints over service.dataplane."""
