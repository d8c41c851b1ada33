"""The inference stage: the one predictor every caller uses (``predictor``), its files on disk
(``model_files``, ``tokenization``), the int8 ONNX export, and streaming batch inference over CSV files."""
