"""How good is a generator: SWD, pretrained backbones, FD/KID/precision/recall, and `evaluate`."""
