"""Training images: the folder scan, the guarded decode, the decoded-set cache, and the batch order of each epoch."""
