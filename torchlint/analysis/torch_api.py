"""Facts about the PyTorch API, as data (no torch import: torchlint runs without torch).

The list of torch.nn module classes was taken from torch 2.13 with `dir(torch.nn)`; a test checks
it against the installed torch so it cannot silently go stale.
"""

from __future__ import annotations

from typing import Optional

TORCH_NN_MODULE_CLASSES = frozenset("""
    AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveLogSoftmaxWithLoss
    AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d AlphaDropout AvgPool1d AvgPool2d
    AvgPool3d BCELoss BCEWithLogitsLoss BatchNorm1d BatchNorm2d BatchNorm3d Bilinear CELU
    CTCLoss ChannelShuffle CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d
    ConstantPad3d Container Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d
    CosineEmbeddingLoss CosineSimilarity CrossEntropyLoss CrossMapLRN2d DataParallel Dropout
    Dropout1d Dropout2d Dropout3d ELU Embedding EmbeddingBag FeatureAlphaDropout Flatten Fold
    FractionalMaxPool2d FractionalMaxPool3d GELU GLU GRU GRUCell GaussianNLLLoss GroupNorm
    Hardshrink Hardsigmoid Hardswish Hardtanh HingeEmbeddingLoss HuberLoss Identity
    InstanceNorm1d InstanceNorm2d InstanceNorm3d KLDivLoss L1Loss LPPool1d LPPool2d LPPool3d
    LSTM LSTMCell LayerNorm LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d LazyConv1d
    LazyConv2d LazyConv3d LazyConvTranspose1d LazyConvTranspose2d LazyConvTranspose3d
    LazyInstanceNorm1d LazyInstanceNorm2d LazyInstanceNorm3d LazyLinear LeakyReLU Linear
    LinearCrossEntropyLoss LocalResponseNorm LogSigmoid LogSoftmax MSELoss MarginRankingLoss
    MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d Mish Module ModuleDict
    ModuleList MultiLabelMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss MultiheadAttention
    NLLLoss NLLLoss2d PReLU PairwiseDistance ParameterDict ParameterList PixelShuffle
    PixelUnshuffle PoissonNLLLoss RMSNorm RNN RNNBase RNNCell RNNCellBase RReLU ReLU ReLU6
    ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d
    ReplicationPad3d SELU Sequential SiLU Sigmoid SmoothL1Loss SoftMarginLoss Softmax Softmax2d
    Softmin Softplus Softshrink Softsign SyncBatchNorm Tanh Tanhshrink Threshold Transformer
    TransformerDecoder TransformerDecoderLayer TransformerEncoder TransformerEncoderLayer
    TripletMarginLoss TripletMarginWithDistanceLoss Unflatten Unfold Upsample
    UpsamplingBilinear2d UpsamplingNearest2d ZeroPad1d ZeroPad2d ZeroPad3d
""".split())

# Module methods that return the module itself (so `Net().to(device).eval()` is still a module).
MODULE_RETURNING_METHODS = frozenset(
    "to cuda cpu eval train float half double bfloat16 requires_grad_ share_memory to_empty xpu ipu mtia"
    .split()
)

# Methods that exist on nn.Module and not on torch.Tensor: calling one is evidence of a module.
MODULE_ONLY_METHODS = frozenset(
    "eval train parameters named_parameters state_dict load_state_dict modules named_modules children "
    "named_children buffers named_buffers zero_grad apply register_forward_hook register_buffer "
    "add_module forward".split()
)

# Builders outside torch.nn whose result is a module.
MODULE_FACTORIES = frozenset({
    "timm.create_model",
    "torchvision.models.get_model",
    "torch.nn.parallel.DistributedDataParallel",
    "torch.nn.parallel.DataParallel",
    "lightning.LightningModule",
    "pytorch_lightning.LightningModule",
})

MODULE_BASE_CLASSES = frozenset({
    "lightning.LightningModule",
    "lightning.pytorch.LightningModule",
    "pytorch_lightning.LightningModule",
})

# torchvision.models attributes that are not model constructors.
_TORCHVISION_NON_MODELS = frozenset({"get_model_weights", "get_weight", "list_models", "get_model_builder"})

# Other spellings of the same object, mapped to the name the rules use.
_ALIASES = {
    "torch.serialization.load": "torch.load",
    "torch.serialization.save": "torch.save",
    "torch.nn.parallel.data_parallel.DataParallel": "torch.nn.DataParallel",
    "torch.nn.parallel.DataParallel": "torch.nn.DataParallel",
    "torch.nn.parallel.distributed.DistributedDataParallel": "torch.nn.parallel.DistributedDataParallel",
    "pytorch_lightning.core.LightningModule": "pytorch_lightning.LightningModule",
}


def canonical(qualified: str) -> str:
    """One name per object: `torch.nn.modules.loss.CrossEntropyLoss` -> `torch.nn.CrossEntropyLoss`."""
    if qualified in _ALIASES:
        return _ALIASES[qualified]
    if qualified.startswith("torch.nn.modules."):
        last = qualified.rsplit(".", 1)[-1]
        if last in TORCH_NN_MODULE_CLASSES:
            return "torch.nn." + last
    return qualified


def is_module_class_name(qualified: Optional[str]) -> bool:
    """True for a qualified class name whose instances are nn.Modules."""
    if not qualified:
        return False
    if qualified in MODULE_BASE_CLASSES or qualified == "torch.nn.parallel.DistributedDataParallel":
        return True
    prefix, _, last = qualified.rpartition(".")
    return prefix == "torch.nn" and last in TORCH_NN_MODULE_CLASSES


def is_module_factory(qualified: Optional[str]) -> bool:
    """True for a callable (class or builder function) whose call returns an nn.Module."""
    if not qualified:
        return False
    if is_module_class_name(qualified) or qualified in MODULE_FACTORIES:
        return True
    if qualified.startswith("torchvision.models."):
        last = qualified.rsplit(".", 1)[-1]
        return last[:1].islower() and not last.startswith("_") and last not in _TORCHVISION_NON_MODELS
    return False
