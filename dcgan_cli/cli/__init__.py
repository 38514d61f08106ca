"""The `dcgan` command: one module per command, shared options, consoles and rendering; parses, renders, and maps
library errors to exit codes. The only package that imports Typer or rich."""
