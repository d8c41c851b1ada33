"""The tracking stage: MLflow and wandb runs (``runs``), the model registry and its aliases, the registered
pyfunc model, and the promotion gate that decides who is ``@champion``."""
