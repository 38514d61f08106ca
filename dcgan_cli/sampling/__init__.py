"""Images from a trained generator: seeds and latents, walks, output files, and the handle
`dcgan_cli.load()` returns."""
