import torch.nn as nn


def head(width, classes):
    return nn.Sequential(nn.Linear(width, classes), nn.Softmax(dim=1))
