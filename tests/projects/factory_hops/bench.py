import time

import torch

from models import build_model

net = build_model("resnet").cuda().eval()
batch = torch.randn(8, 3, 32, 32, device="cuda")
with torch.no_grad():
    start = time.perf_counter()
    scores = net(batch)
    elapsed = time.perf_counter() - start  # expect: TL401
print(f"{elapsed * 1000:.1f} ms")
