import torch.nn as nn


class ResNet(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7), nn.BatchNorm2d(64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.stem(x).mean((2, 3)))
