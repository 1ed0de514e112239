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

# Top-level packages known from tables, never read from the project's files (a checkout of torch
# itself is judged by what torch's names are, not by reading its sources as a user project).
LIBRARY_ROOTS = frozenset({
    "torch", "torchvision", "torchaudio", "torchtext", "timm", "lightning", "pytorch_lightning",
    "transformers", "numpy", "scipy", "pandas", "sklearn", "functorch", "typing", "abc", "collections",
    "os", "sys", "math", "time", "timeit", "json", "re", "argparse", "logging", "random", "copy",
})

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
    prefix, _, last = qualified.rpartition(".")
    if prefix == "torch.nn" and last in TORCH_NN_MODULE_CLASSES:
        return True
    from torchlint.analysis.libraries import is_library_module_class

    return is_library_module_class(qualified)


def is_module_factory(qualified: Optional[str]) -> bool:
    """True for a callable (class or builder function) whose call returns an nn.Module."""
    if not qualified:
        return False
    if is_module_class_name(qualified):
        return True
    from torchlint.analysis.libraries import is_library_module_factory

    return is_library_module_factory(qualified)


# ---------------------------------------------------------------------- tensors
# torch functions that create a tensor from nothing: no input carries gradients into them.
TENSOR_FACTORIES = frozenset("torch." + name for name in (
    "tensor as_tensor from_numpy zeros ones empty full rand randn randint randperm arange linspace "
    "logspace eye zeros_like ones_like empty_like full_like rand_like randn_like randint_like"
).split())

# Results that never require grad, whatever the input: indices, comparisons, Python values.
NO_GRAD_RESULT_METHODS = frozenset(
    "detach detach_ argmax argmin argsort eq ne lt le gt ge isnan isinf isfinite item tolist numpy "
    "long int short bool byte char size dim numel nonzero count_nonzero sign_ data_ptr stride "
    "element_size is_contiguous unique bincount".split()
)
NO_GRAD_RESULT_FUNCTIONS = frozenset("torch." + name for name in (
    "argmax argmin argsort eq ne lt le gt ge isnan isinf isfinite nonzero count_nonzero bincount "
    "unique numel is_tensor equal allclose isclose no_grad"
).split())

# torch.nn classes without parameters: their output needs grad only if their input does.
PARAMETERLESS_NN_CLASSES = frozenset(
    name for name in TORCH_NN_MODULE_CLASSES
    if name.endswith("Loss") and name != "AdaptiveLogSoftmaxWithLoss"
    or any(part in name for part in ("Pool", "Dropout", "Pad", "Shuffle", "Upsampl"))
    or name in {
        "ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "GLU", "SiLU", "Mish", "Sigmoid",
        "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Hardshrink", "Softshrink", "Tanhshrink",
        "Softsign", "Softplus", "LogSigmoid", "Softmax", "Softmax2d", "Softmin", "LogSoftmax", "Threshold",
        "RReLU", "Identity", "Flatten", "Unflatten", "Fold", "Unfold", "CosineSimilarity",
        "PairwiseDistance", "LocalResponseNorm", "CrossMapLRN2d", "PixelShuffle", "PixelUnshuffle",
        "NLLLoss2d",
    }
)

# Activations whose output a loss may receive.
ACTIVATION_FUNCTIONS = {
    "torch.softmax": "softmax",
    "torch.nn.functional.softmax": "softmax",
    "torch.special.softmax": "softmax",
    "torch.log_softmax": "log_softmax",
    "torch.nn.functional.log_softmax": "log_softmax",
    "torch.special.log_softmax": "log_softmax",
    "torch.sigmoid": "sigmoid",
    "torch.nn.functional.sigmoid": "sigmoid",
    "torch.special.expit": "sigmoid",
}
ACTIVATION_METHODS = {"softmax": "softmax", "log_softmax": "log_softmax", "sigmoid": "sigmoid"}
# Tensor methods whose result holds the same values as the tensor (reshaped, moved, cast, copied).
VALUE_KEEPING_METHODS = frozenset(
    "view reshape squeeze unsqueeze flatten view_as reshape_as contiguous float double to cpu cuda detach clone".split()
)
ACTIVATION_MODULES = {
    "torch.nn.Softmax": "softmax",
    "torch.nn.LogSoftmax": "log_softmax",
    "torch.nn.Sigmoid": "sigmoid",
}

# Functional losses (torch.nn.functional): called with (input, target).
LOSS_FUNCTIONS = frozenset("torch.nn.functional." + name for name in (
    "cross_entropy nll_loss binary_cross_entropy binary_cross_entropy_with_logits mse_loss l1_loss "
    "smooth_l1_loss huber_loss kl_div poisson_nll_loss gaussian_nll_loss hinge_embedding_loss "
    "multilabel_margin_loss multilabel_soft_margin_loss multi_margin_loss soft_margin_loss "
    "cosine_embedding_loss margin_ranking_loss triplet_margin_loss ctc_loss"
).split())
OPTIMIZER_PREFIX = "torch.optim."

# Losses that apply log_softmax (CrossEntropy) or sigmoid (BCEWithLogits) themselves.
CROSS_ENTROPY_FUNCTIONS = frozenset({"torch.nn.functional.cross_entropy"})
CROSS_ENTROPY_CLASSES = frozenset({"torch.nn.CrossEntropyLoss"})
BCE_WITH_LOGITS_LOSSES = frozenset({"torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.BCEWithLogitsLoss"})
# ... and the binary cross-entropy that takes probabilities.
BCE_FUNCTION = "torch.nn.functional.binary_cross_entropy"
BCE_LOSSES = frozenset({BCE_FUNCTION, "torch.nn.BCELoss"})

DTYPE_NAMES = frozenset(
    "float float16 float32 float64 half double bfloat16 int int8 int16 int32 int64 long short uint8 bool "
    "complex64 complex128 cfloat cdouble".split()
)
