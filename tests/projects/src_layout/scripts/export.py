import torch

from vision.backbones import Backbone

backbone = Backbone()
x = torch.randn(1, 3, 32, 32)
features = backbone(x).transpose(1, 3)
flat = features.view(1, -1)  # expect: TL202
torch.save(backbone, "backbone.pt")  # expect: TL501
