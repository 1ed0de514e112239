import torch
import torch.nn as nn


def store(value, path):
    torch.save(value, path)


store(nn.Linear(2, 2), "layer.pt")  # a module here...
store(torch.randn(3), "tensor.pt")  # ...but this site gives a tensor: the parameter is not a module
