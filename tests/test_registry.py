from __future__ import annotations

import textwrap

import pytest

from suite.api import MethodInfo, PruningMethod
from suite.errors import SuiteError
from suite.registry import (
    UnknownMethodError,
    get_method,
    list_methods,
    load_plugins,
    register_method,
    resolve_method_names,
)

PLUGIN = textwrap.dedent(
    """
    from suite.api import MethodInfo, PruningMethod
    from suite.registry import register_method

    @register_method(MethodInfo(name="{name}", summary="test plugin"))
    class Plugin(PruningMethod):
        def prepare(self, model, ctx):
            return model

        def finalize(self, model, ctx):
            return model
    """
)


def test_builtin_methods_are_discovered_from_the_methods_folder():
    assert "dense" in list_methods()
    assert list_methods("den*") == ["dense"]
    assert list_methods("zzz*") == []


def test_unknown_method_suggests_a_close_name():
    with pytest.raises(
        UnknownMethodError, match=r"unknown method 'dens'. Did you mean 'dense'\? Known methods: .*dense"
    ):
        get_method("dens")


def test_resolve_all_patterns_and_lists():
    assert resolve_method_names("all") == list_methods()
    assert resolve_method_names("dense,dense") == ["dense"]
    with pytest.raises(UnknownMethodError, match="no method matches 'nothing\\*'"):
        resolve_method_names("nothing*")


def test_plugin_from_file(tmp_path, isolated_registry):
    path = tmp_path / "my_plugin.py"
    path.write_text(PLUGIN.format(name="from-file"))
    load_plugins([str(path)])
    assert "from-file" in list_methods()
    assert get_method("from-file").info.summary == "test plugin"


def test_plugin_from_module(tmp_path, monkeypatch, isolated_registry):
    (tmp_path / "my_module_plugin.py").write_text(PLUGIN.format(name="from-module"))
    monkeypatch.syspath_prepend(str(tmp_path))
    load_plugins(["my_module_plugin"])
    assert "from-module" in list_methods()


def test_plugin_from_entry_point(tmp_path, monkeypatch, isolated_registry):
    """A real installed-distribution entry point (a dist-info folder on sys.path)."""
    (tmp_path / "ep_plugin.py").write_text(PLUGIN.format(name="from-entry-point"))
    dist = tmp_path / "ep_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[prune_suite.methods]\nmine = ep_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    isolated_registry._loaded_builtin = False
    load_plugins()
    assert "from-entry-point" in list_methods()


def test_broken_plugin_fails_with_one_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import not_a_real_module_xyz\n")
    with pytest.raises(SuiteError, match=r"could not load plugin .*ModuleNotFoundError"):
        load_plugins([str(path)])
    with pytest.raises(SuiteError, match="does not exist"):
        load_plugins([str(tmp_path / "missing.py")])


def test_duplicate_names_from_different_classes_are_refused(isolated_registry):
    class Other(PruningMethod):
        def prepare(self, model, ctx):
            return model

        def finalize(self, model, ctx):
            return model

    with pytest.raises(SuiteError, match="registered twice"):
        register_method(MethodInfo(name="dense", summary="x"))(Other)


def test_variants_share_a_class_with_other_configs(isolated_registry):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class VariantConfig:
        strength: float = 1.0

    @register_method(MethodInfo(name="variant-b", summary="b"), config=VariantConfig(strength=0.0))
    @register_method(MethodInfo(name="variant-a", summary="a"))
    class Variant(PruningMethod):
        Config = VariantConfig

        def prepare(self, model, ctx):
            return model

        def finalize(self, model, ctx):
            return model

    assert get_method("variant-a").config.strength == 1.0
    assert get_method("variant-b").config.strength == 0.0
    assert list_methods("variant-*") == ["variant-a", "variant-b"]
