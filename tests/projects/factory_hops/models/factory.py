from .resnet import ResNet


def _make(depth):
    return ResNet(depth)


def build_model(name, depth=18):
    if name == "resnet":
        return _make(depth)
    return _make(34)
