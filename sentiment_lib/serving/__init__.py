"""The serving stage: the Flask app factory and its routes (``api``), the model holder that follows
``@champion`` with a micro-batcher, the served-text log, and a helper that runs ``app.py`` as a process.

Nothing here imports papermill, nbconvert or (on the ONNX back-end) torch: tests/project/test_layout.py checks.
"""
