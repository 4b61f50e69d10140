import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivesim.config import ConfigError, EnvConfig
from drivesim.envs.city_drive import CityDriveEnv
from drivesim.envs.vector import CityDriveVectorEnv

SMALL = {"map": {"blocks_x": 2, "blocks_y": 2, "pool_size": 1}}


@pytest.fixture(scope="module")
def env():
    e = CityDriveEnv(**SMALL)
    e.reset(seed=0)
    return e


@pytest.mark.parametrize("bad", [[np.nan, 0.0], [0.0, np.inf], [-np.inf, 1.0]])
def test_non_finite_action_raises(env, bad):
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.array(bad, dtype=np.float32))


@pytest.mark.parametrize("bad", [[0.0], [0.0, 0.0, 0.0], [[0.0, 0.0]], "fast", None])
def test_wrong_shape_or_type_raises_and_names_it(env, bad):
    with pytest.raises(ValueError, match="action"):
        env.step(bad)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=2, max_size=2))
def test_any_two_floats_either_step_or_raise(env, values):
    if all(math.isfinite(v) for v in values):
        obs, reward, terminated, truncated, info = env.step(np.array(values, dtype=np.float32))
        assert np.isfinite(reward)
        assert all(np.isfinite(v).all() for v in obs.values())
        if terminated or truncated:
            env.reset()
    else:
        with pytest.raises(ValueError):
            env.step(np.array(values, dtype=np.float32))


def test_out_of_range_actions_are_clipped():
    a, b = CityDriveEnv(**SMALL), CityDriveEnv(**SMALL)
    a.reset(seed=4)
    b.reset(seed=4)
    oa = a.step(np.array([5.0, 9.0], dtype=np.float32))[0]
    ob = b.step(np.array([1.0, 1.0], dtype=np.float32))[0]
    assert all(np.array_equal(oa[k], ob[k]) for k in oa)


def test_vector_env_action_shape_error_names_shape():
    env = CityDriveVectorEnv(3, **SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        env.step(np.zeros((2, 2)))


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match="reset"):
        CityDriveEnv(**SMALL).step(np.zeros(2, dtype=np.float32))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"traffic": {"n_cars": -1}}, "n_cars"),
        ({"map": {"lane_width": 0.5}}, "lane_width"),
        ({"dt": 2.0}, "dt"),
        ({"observations": ("radar",)}, "observations"),
        ({"traffic": {"n_carz": 3}}, "n_carz"),
        ({"speed": 3}, "speed"),
        ({"route_length": (500.0, 100.0)}, "route_length"),
    ],
)
def test_invalid_config_names_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        CityDriveEnv(**overrides)


def test_from_dict_wrong_type_names_key_and_source():
    with pytest.raises(ConfigError, match=r"scenario.toml.*traffic.n_cars.*wrong type"):
        EnvConfig.from_dict({"traffic": {"n_cars": "many"}}, source="scenario.toml")


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.sampled_from(["n_cars", "n_pedestrians", "jaywalk_share", "green_time", "speed_limit"]),
                       st.one_of(st.integers(-1000, 1000), st.floats(allow_nan=True), st.text(max_size=3)),
                       min_size=1, max_size=3))
def test_random_traffic_configs_are_accepted_or_rejected_cleanly(values):
    try:
        cfg = EnvConfig.from_dict({"traffic": values})
    except ConfigError as err:
        assert any(name in str(err) for name in values)
    else:
        cfg.validate()
