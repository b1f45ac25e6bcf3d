"""SavedModel export for TF Serving: signatures, the serving layout, warm-up, models.config.

`keras_bert_pkg.export(model, export_dir, ...)` (from `export_model.py`) is the entry
point. Import the modules of this folder as `from keras_bert_pkg.export.<module> import
...` (the package attribute `keras_bert_pkg.export` is the function).
"""
