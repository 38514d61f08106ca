"""Files: atomic writes, PNG/GIF encoding and grids, the loss plot, and the one text sanitiser."""
