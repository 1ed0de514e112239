import torch

from models import Tagger


def main():
    tagger = Tagger()
    optimizer = torch.optim.Adam(tagger.parameters())
    batches = [(torch.randn(2, 7, 8), torch.randint(0, 5, (2, 7))) for _ in range(4)]
    for epoch in range(3):
        tagger.train()
        for x, y in batches:
            optimizer.zero_grad()
            loss = tagger(x).sum()
            loss.backward()
            optimizer.step()
        correct = 0
        with torch.no_grad():
            for x, y in batches:
                predictions = tagger(x).argmax(-1)  # expect: TL301
                correct += (predictions == y).sum().item()
        print(epoch, correct)
