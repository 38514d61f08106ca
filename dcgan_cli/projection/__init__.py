"""Projection: finding the latent whose generated image matches a given picture (`dcgan project`)."""
