from .nets import Discriminator, Generator

__all__ = ["Discriminator", "Generator"]
