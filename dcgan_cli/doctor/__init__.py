"""`dcgan doctor`: a verdict per check on a run (D overpowering G, instability, collapse, memorisation, progress,
length), from what the run folder already records: metrics.jsonl, the checkpoint, and the training folder."""
