"""TFAN (the package's DMMv2): sizes, the package's state-dict keys, and the strict loader.

The package (thermal-face-alignment 1.0.0) builds its network with timm, which the project's environment lacks (the
comparison with the package itself is tests/parity/test_tfan.py, `make parity`); the expected keys below are written
from its source: `tfan/core/models.py`
(DMMv2: `feature_network` = timm `mobilenetv2_100` with num_classes=0, `fc` = Linear(1280, 3 n)) and timm 1.0's
`_gen_mobilenet_v2` arch_def (blocks per stage 1, 2, 3, 4, 3, 3, 1; the first a depthwise-separable block, the rest
inverted residuals) with its block module names.
"""

import numpy as np
import pytest
import torch

from thermbench.core.io import InputError
from thermbench.models.tfan import TFAN, count_parameters, load_tfan

BLOCKS_PER_STAGE = (1, 2, 3, 4, 3, 3, 1)
DS_MODULES = ("conv_dw", "bn1", "conv_pw", "bn2")                       # timm DepthwiseSeparableConv
IR_MODULES = ("conv_pw", "bn1", "conv_dw", "bn2", "conv_pwl", "bn3")    # timm InvertedResidual
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
SHAPES = {  # exact names and shapes read from the architecture: widths 32 stem, 16 ... 320, head 1280, 3 x 70 out
    "feature_network.conv_stem.weight": (32, 3, 3, 3),
    "feature_network.blocks.0.0.conv_dw.weight": (32, 1, 3, 3),
    "feature_network.blocks.0.0.conv_pw.weight": (16, 32, 1, 1),
    "feature_network.blocks.1.0.conv_pw.weight": (96, 16, 1, 1),
    "feature_network.blocks.1.0.conv_dw.weight": (96, 1, 3, 3),
    "feature_network.blocks.1.1.conv_pwl.weight": (24, 144, 1, 1),
    "feature_network.blocks.5.2.bn3.running_var": (160,),
    "feature_network.blocks.6.0.conv_pwl.weight": (320, 960, 1, 1),
    "feature_network.conv_head.weight": (1280, 320, 1, 1),
    "feature_network.bn2.num_batches_tracked": (),
    "fc.weight": (210, 1280),
    "fc.bias": (210,),
}


def expected_keys() -> set[str]:
    keys = {"feature_network.conv_stem.weight", "feature_network.conv_head.weight", "fc.weight", "fc.bias"}
    keys |= {f"feature_network.{bn}.{k}" for bn in ("bn1", "bn2") for k in BN_KEYS}
    for stage, count in enumerate(BLOCKS_PER_STAGE):
        for block in range(count):
            for module in DS_MODULES if stage == 0 else IR_MODULES:
                prefix = f"feature_network.blocks.{stage}.{block}.{module}"
                keys |= {f"{prefix}.{k}" for k in BN_KEYS} if module.startswith("bn") else {f"{prefix}.weight"}
    return keys


def test_state_dict_has_the_packages_key_names_and_shapes():
    state = TFAN(70).state_dict()
    assert set(state) == expected_keys()
    assert len(state) == 314  # 52 convs + 52 BNs x 5 + fc weight and bias
    for name, shape in SHAPES.items():
        assert tuple(state[name].shape) == shape, name


@pytest.mark.parametrize("n, total", [(70, 2_492_882), (478, 4_060_826)])
def test_parameter_count_and_output_shape(n, total):
    model = TFAN(n).eval()
    # MobileNetV2 1.0 has 3,504,872 parameters with its 1000-class classifier (1280 x 1000 + 1000 = 1,281,000)
    assert count_parameters(model.feature_network) == 3_504_872 - 1_281_000
    assert count_parameters(model) == total == 2_223_872 + 1280 * 3 * n + 3 * n
    with torch.no_grad():
        x = torch.randn(2, 3, 224, 224)
        assert tuple(model.feature_network.forward_features(x).shape) == (2, 1280, 7, 7)
        assert tuple(model(x).shape) == (2, n, 3)


def test_head_ends_in_a_leaky_relu_on_every_value():
    model = TFAN(70).eval()
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.tensor([0.5, -1.0, 2.0] * 70))
        out = model(torch.zeros(1, 3, 224, 224))
    np.testing.assert_allclose(out[0, 0].numpy(), [0.5, -0.01, 2.0], rtol=1e-6)


@pytest.mark.parametrize("prefix", ["module.", ""])
def test_loads_the_drive_file_and_the_converted_file_strictly(tmp_path, prefix):
    """The Drive file holds nn.DataParallel keys (`module.`), the package's converted file plain keys."""
    torch.manual_seed(0)
    source = TFAN(70).eval()
    torch.save({prefix + k: v for k, v in source.state_dict().items()}, tmp_path / "70.pt")
    model = load_tfan(tmp_path / "70.pt", 70)
    assert not model.training
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), source(x).numpy())


def test_wrong_layouts_fail_with_one_line_naming_the_file(tmp_path):
    torch.save(TFAN(478).state_dict(), tmp_path / "478.pt")
    with pytest.raises(InputError, match=r"478.pt: does not fit TFAN with 70 points: shape mismatch") as err:
        load_tfan(tmp_path / "478.pt", 70)
    assert "fc.weight (1434, 1280) vs (210, 1280)" in str(err.value) and "head has 478 points" in str(err.value)

    state = TFAN(70).state_dict()
    state["classifier.weight"] = torch.zeros(1)
    del state["fc.bias"]
    torch.save(state, tmp_path / "extra.pt")
    with pytest.raises(InputError, match=r"missing \(1\): fc.bias; unexpected \(1\): classifier.weight"):
        load_tfan(tmp_path / "extra.pt", 70)

    (tmp_path / "page.pt").write_text("<html>Google Drive virus scan warning</html>")
    torch.save({"model": {"a": torch.zeros(1)}}, tmp_path / "nested.pt")
    for name, message in (("page.pt", "not a readable torch state dict"), ("nested.pt", "not a TFAN state dict"),
                          ("absent.pt", "TFAN weights not found")):
        with pytest.raises(InputError, match=f"{name}: {message}") as err:
            load_tfan(tmp_path / name, 70)
        assert "\n" not in str(err.value)
