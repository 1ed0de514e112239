import torch
import torch.nn as nn

import helpers as h
import models as netlib
from models import Net, Plain

model = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
images, labels = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])

loss = criterion(model(images), labels)  # expect: TL101
loss.backward()
optimizer.step()
print(model(images).numpy())  # expect: TL201
torch.save(model, "net.pt")  # expect: TL501

other = netlib.Net()
torch.save(other, "other.pt")  # expect: TL501

plain = Plain()
features = torch.randn(4, 8)
loss = criterion(plain(features), labels)
loss = criterion(h.probabilities(plain(features)), labels)  # expect: TL101
loss = criterion(h.plain(plain(features)), labels)
torch.save(plain.state_dict(), "plain.pt")
