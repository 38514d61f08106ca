"""Taking a generator elsewhere and bringing one in: ONNX, torch.export and Hugging Face-style folders out,
the PyTorch tutorial's (and pytorch/examples') state-dict pickles in, refused unless they are plain weights."""
