"""torchlint: find and fix the PyTorch mistakes that run without an error message."""

__version__ = "0.1.0"
