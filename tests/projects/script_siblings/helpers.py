import torch


def probabilities(logits):
    return torch.softmax(logits, dim=-1)


def plain(logits):
    return logits * 2
