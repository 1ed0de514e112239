"""A small image-classifier training script, written the way the notes write them.

`torchlint check examples/` finds its pitfalls; `torchlint --fix --unsafe-fixes examples/` fixes
what can be fixed. tests/test_example.py checks both.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class SmallCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(8 * 14 * 14, classes)

    def forward(self, x):
        x = self.features(x)
        # Flatten channels-last, as the exported model expects.
        x = x.permute(0, 2, 3, 1).reshape(x.size(0), -1)
        return self.head(self.dropout(x))


def fake_mnist(n=256):
    images = torch.randn(n, 1, 28, 28)
    labels = torch.randint(0, 10, (n,))
    return TensorDataset(images, labels)


def train(epochs, device, checkpoint_path):
    model = SmallCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(fake_mnist(), batch_size=32, shuffle=True)
    losses = []
    for epoch in range(epochs):
        model.train()
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            probs = F.softmax(model(images), dim=1)
            loss = F.cross_entropy(probs, labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach().cpu().numpy())
        print(f"epoch {epoch}: accuracy {evaluate(model, loader, device):.3f}")
        # Checkpoint every epoch so a crash does not lose the run.
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, checkpoint_path)
    torch.save(model.state_dict(), "final.pt")
    return model, losses


def evaluate(model, loader, device):
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in loader:
            outputs = model(images.to(device))
            correct += (outputs.argmax(dim=1) == labels.to(device)).sum().item()
    return correct / len(loader.dataset)


def benchmark(model, device, steps=20):
    images = torch.randn(64, 1, 28, 28, device=device)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        model(images)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return elapsed / steps


def resume(checkpoint_path, device):
    checkpoint = torch.load(checkpoint_path, map_location=device, weights_only=True)
    model = checkpoint["model"]
    return model, checkpoint["epoch"]


def serve(path):
    model = torch.load(path)
    model.eval()
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    trained, _ = train(args.epochs, device, "checkpoint.pt")
    print(f"{benchmark(trained, device) * 1000:.2f} ms per batch")
