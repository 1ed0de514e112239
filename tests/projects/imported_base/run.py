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

labels = torch.randint(0, 5, (2, 7))
with torch.no_grad():
    predictions = tagger(x).argmax(-1)  # expect: TL301
accuracy = (predictions == labels).float().mean()
print(f"params {tagger.count()} accuracy {accuracy:.3f}")
