import torch

from models import Tagger

tagger = Tagger()
optimizer = torch.optim.Adam(tagger.parameters())
x = torch.randn(2, 7, 8)
tagger.train()
loss = tagger(x).sum()
loss.backward()
optimizer.step()
torch.save(tagger, "tagger.pt")  # expect: TL501

