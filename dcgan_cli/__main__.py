"""`python -m dcgan_cli` (what `torchrun -m dcgan_cli` runs)."""

from dcgan_cli.cli.app import main

if __name__ == "__main__":
    main()
