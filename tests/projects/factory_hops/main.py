import torch

from models import build_model

net = build_model("resnet").cuda()
torch.save(net, "resnet.pt")  # expect: TL501
scores = net(torch.randn(2, 3, 32, 32).cuda())
print(scores.detach().numpy())  # expect: TL201
