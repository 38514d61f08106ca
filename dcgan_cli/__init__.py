"""dcgan: train, sample, interpolate and inspect a DCGAN from the shell.

Importing the package must stay cheap: `dcgan --help` and `dcgan inspect` never load torch.
"""

__version__ = "0.1.0"
