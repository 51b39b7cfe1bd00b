"""Sequential: chaining checks, container behaviour, forward."""

import numpy as np
import pytest

from backprop import nn


def test_container_behaviour():
    layers = [nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2)]
    net = nn.Sequential(*layers)
    assert len(net) == 3 and list(net) == layers and net[0] is layers[0] and net[-1] is layers[2]
    assert isinstance(net[1:], nn.Sequential) and list(net[1:]) == layers[1:]
    assert [name for name, _ in net.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    net.append(nn.Sigmoid())
    assert len(net) == 4 and isinstance(net[3], nn.Sigmoid)
    assert list(nn.Sequential(layers)) == layers  # a list works too
    assert len(nn.Sequential()) == 0


def test_forward_applies_layers_in_order():
    net = nn.Sequential(nn.Dense(4, 3, activation="relu"), nn.Dense(3, 2))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(net(x).data, net[1](net[0](x)).data)


def test_sizes_must_chain():
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\(4 -> 3\)\) outputs 3 features but layer 1 \(Dense\(5 -> 2\)\) expects 5"):
        nn.Sequential(nn.Dense(4, 3), nn.Dense(5, 2))
    with pytest.raises(ValueError, match=r"layer 0 .* outputs 3 .* layer 3 .* expects 4"):
        nn.Sequential(nn.Dense(4, 3), nn.ReLU(), nn.Dropout(0.1), nn.Dense(4, 2))
    with pytest.raises(ValueError, match=r"BatchNorm\(num_features=2"):
        nn.Sequential(nn.Dense(4, 3), nn.BatchNorm(2))
    with pytest.raises(ValueError, match="expects 7"):
        nn.Sequential(nn.Dense(4, 3)).append(nn.Dense(7, 1))
    with pytest.raises(ValueError, match="expects 3"):
        nn.Sequential(nn.Sequential(nn.Dense(4, 2)), nn.Dense(3, 1))
    nn.Sequential(nn.Dense(4, 3), nn.BatchNorm(3), nn.Tanh(), nn.Dense(3, 1))  # fine
    nn.Sequential(nn.Flatten(), nn.Dense(12, 1))  # Flatten: size unknown, not checked


def test_layers_must_be_modules():
    with pytest.raises(TypeError, match="layer 1 must be a Module"):
        nn.Sequential(nn.Dense(2, 2), lambda x: x)


def test_feature_sizes_for_the_training_code():
    net = nn.Sequential(nn.Dropout(0.1), nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2), nn.Softmax())
    assert net.expected_in_features() == 4
    assert net.output_features(4) == 2
    assert nn.Sequential(nn.Flatten(), nn.Dense(12, 1)).expected_in_features() is None
