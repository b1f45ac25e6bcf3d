"""SavedModel export for TF Serving: signatures, the serving layout, warm-up, models.config.

`export_model(model, export_dir, ...)` (from `export_model.py`, also `kb.export_model`) is
the entry point.
"""
