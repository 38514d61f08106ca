"""A training run: options (checked here), the resolved recipe, set-up, the loop and its step, DiffAugment, EMA,
torchrun, signals, the run folder and metrics.jsonl."""
