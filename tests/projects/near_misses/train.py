import torch
import torch.nn as nn

from other import Net
from tools import save
from unresolvable_package.models import Model

net = Net()
torch.save(net, "net.pt")
model = Model()
torch.save(model, "model.pt")
save(nn.Linear(2, 2).state_dict(), "a.pt")
save(torch.randn(3), "b.pt")
