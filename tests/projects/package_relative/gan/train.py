import torch
import torch.nn as nn

from . import Discriminator
from .nets import Generator
from ..gan.layers import head

generator = Generator()
discriminator = Discriminator()
adversarial_loss = nn.BCELoss()
auxiliary_loss = nn.CrossEntropyLoss()
z = torch.randn(8, 16)
labels = torch.randint(0, 10, (8,))

validity, predicted = discriminator(generator(z))
loss = adversarial_loss(validity, torch.ones(8, 1)) + auxiliary_loss(predicted, labels)  # expect: TL101, TL104
classifier = head(64, 10)
loss = auxiliary_loss(classifier(generator(z)), labels)  # expect: TL101
torch.save(generator, "g.pt")  # expect: TL501
torch.save(discriminator.state_dict(), "d.pt")
