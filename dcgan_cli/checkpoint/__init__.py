"""Checkpoints: the safetensors header reader (torch-free), the file format, training-state capture and restore,
and `describe` for `dcgan inspect`. The format's public names are re-exported here; torch is imported only by
the functions that move tensors, so `from dcgan_cli import checkpoint` stays cheap."""

from dcgan_cli.checkpoint.format import (
    FORMAT,
    FORMAT_VERSION,
    Checkpoint,
    Header,
    clean_stale_temps,
    encode,
    load,
    read_header,
    save,
)
from dcgan_cli.checkpoint.header import TensorInfo
from dcgan_cli.checkpoint.locate import LAST, find, fingerprint, newest_run, resolve

__all__ = ["FORMAT", "FORMAT_VERSION", "LAST", "Checkpoint", "Header", "TensorInfo", "clean_stale_temps", "encode",
           "find", "fingerprint", "load", "newest_run", "read_header", "resolve", "save"]
