import torch.nn as nn


class BaseModel(nn.Module):
    """Shared plumbing: subclasses add layers."""

    def count(self):
        return sum(p.numel() for p in self.parameters())
