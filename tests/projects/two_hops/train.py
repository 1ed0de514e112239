import torch

from model import Classifier


def checkpoint(network, path):
    torch.save(network, path)  # expect: TL501


def finish(network, epoch):
    checkpoint(network, f"epoch{epoch}.pt")


def main():
    classifier = Classifier()
    finish(classifier, 3)


if __name__ == "__main__":
    main()
