import torch.nn as nn

from .layers import head


class Generator(nn.Module):
    def __init__(self, latent=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(latent, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 64))

    def forward(self, z):
        return self.body(z)


class Discriminator(nn.Module):
    """Auxiliary-classifier discriminator: (validity, class probabilities)."""

    def __init__(self, classes=10):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, 32), nn.LeakyReLU(0.2), nn.Dropout(0.25))
        self.adv = nn.Sequential(nn.Linear(32, 1), nn.Sigmoid())
        self.aux = head(32, classes)

    def forward(self, x):
        h = self.trunk(x)
        validity = self.adv(h)
        label = self.aux(h)
        return validity, label
