from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from suite.api import MethodInfo, PruningMethod
from suite.errors import SuiteError
from suite.registry import (
    UnknownMethodError,
    get_method,
    get_registered,
    list_methods,
    load_plugins,
    register_method,
    resolve_method_names,
    summary_of,
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
    isolated_registry._declared = None  # discover again: the entry point is new
    assert "from-entry-point" in list_methods()
    assert "ep_plugin" not in sys.modules  # known from its source, imported only when used
    assert get_method("from-entry-point").info.summary == "test plugin"


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

    class Another(Other):
        pass

    register_method(MethodInfo(name="t-twice", summary="x"))(Other)
    with pytest.raises(SuiteError, match="registered twice"):
        register_method(MethodInfo(name="t-twice", summary="x"))(Another)


PLUGIN_TAKING_DENSE = """
from suite.api import MethodInfo, PruningMethod
from suite.registry import register_method


@register_method(MethodInfo(name="dense", summary="not the built-in dense"))
class Impostor(PruningMethod):
    def prepare(self, model, ctx):
        return model

    def finalize(self, model, ctx):
        return model
"""


def test_a_plugin_cannot_take_over_a_built_in_name(isolated_registry, tmp_path):
    path = tmp_path / "impostor.py"
    path.write_text(PLUGIN_TAKING_DENSE)
    with pytest.raises(SuiteError, match=r"method name 'dense' belongs to .*methods/dense/__init__.py"):
        load_plugins([str(path)])
    assert get_registered("dense").cls.__module__ == "methods.dense"


@pytest.mark.parametrize("code", [0, 3])
def test_sys_exit_in_a_plugin_import_is_a_load_error(isolated_registry, tmp_path, code):
    path = tmp_path / f"exits{code}.py"
    path.write_text(f"import sys\nsys.exit({code})\n")
    with pytest.raises(SuiteError, match=f"could not load plugin '.*exits{code}.py': SystemExit: {code}"):
        load_plugins([str(path)])


def test_run_refuses_a_plugin_taking_a_built_in_name_in_one_line(capsys, tmp_path):
    path = tmp_path / "impostor_cli.py"
    path.write_text(PLUGIN_TAKING_DENSE)
    from suite.cli import main

    code = main(["run", "--preset", "smoke", "--methods", "dense", "--plugins", str(path), "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "belongs to" in err[0] and err[0].startswith("error: ")


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


def test_exclusions_remove_from_the_selection_in_order():
    everything = list_methods()
    assert resolve_method_names("all,-random") == [m for m in everything if m != "random"]
    assert resolve_method_names("-random") == resolve_method_names("all,-random")  # a leading one starts from all
    assert resolve_method_names("teacher,dense,ksp,heads,-k*") == ["teacher", "dense", "heads"]
    assert resolve_method_names("all,-*e*,dense") == [m for m in everything if "e" not in m] + ["dense"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("dense,-random", r"'-random' excludes nothing: no method selected before it matches \(selected: dense\)"),
        ("all,-randm", r"unknown method 'randm'. Did you mean 'random'\?"),
        ("all,-*zzz*", r"no method matches '\*zzz\*'"),
        ("dense,-dense", r"--methods 'dense,-dense' leaves no method to run"),
    ],
)
def test_exclusions_that_remove_nothing_or_everything_are_errors(spec, message):
    with pytest.raises(UnknownMethodError, match=message):
        resolve_method_names(spec)


NO_HEAVY_IMPORTS = textwrap.dedent(
    """
    import sys
    from suite.cli import main
    from suite.registry import resolve_method_names

    main(["ls", "methods"])
    resolve_method_names("all,-random")
    try:
        main(["run", "--help"])
    except SystemExit:
        pass
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "datasets")
                   or m.startswith("methods."))
    print("HEAVY", heavy)
    """
)


def test_listing_selecting_and_help_import_no_method_and_no_torch():
    proc = subprocess.run([sys.executable, "-c", NO_HEAVY_IMPORTS], capture_output=True, text=True, check=True)
    assert "ksp " in proc.stdout and "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


@pytest.fixture
def methods_folder(tmp_path, monkeypatch, isolated_registry):
    """A second folder of the built-in `methods` package, discovered afresh; its modules forgotten after."""
    import methods

    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(tmp_path)])
    isolated_registry._declared = None
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("methods.") and m.split(".")[1].startswith("probe_")]:
        del sys.modules[name]


def _method_folder(root, folder: str, source: str) -> None:
    (root / folder).mkdir()
    (root / folder / "__init__.py").write_text(source)


def test_a_new_method_folder_is_listed_without_being_imported(methods_folder):
    _method_folder(methods_folder, "probe_lazy", PLUGIN.format(name="probe-lazy"))
    assert "probe-lazy" in list_methods()
    assert summary_of("probe-lazy") == "test plugin"
    assert "methods.probe_lazy" not in sys.modules
    assert get_method("probe-lazy").info.name == "probe-lazy"  # used: imported now
    assert "methods.probe_lazy" in sys.modules


def test_a_folder_whose_names_cannot_be_read_is_imported_to_list_them(methods_folder):
    computed = PLUGIN.format(name="{name}").replace('name="{name}"', 'name="probe-" + "computed"')
    _method_folder(methods_folder, "probe_computed", computed)
    assert "probe-computed" in list_methods()
    assert "methods.probe_computed" in sys.modules


def test_a_declared_method_that_does_not_register_is_an_error(methods_folder):
    never = "if False:\n" + textwrap.indent(PLUGIN.format(name="probe-never"), "    ")
    _method_folder(methods_folder, "probe_never", never)
    assert "probe-never" in list_methods()
    with pytest.raises(SuiteError, match=r"probe_never/__init__.py declares method 'probe-never', but importing it"):
        get_method("probe-never")


def test_two_folders_declaring_one_name_are_refused(methods_folder):
    _method_folder(methods_folder, "probe_twin", PLUGIN.format(name="dense"))
    with pytest.raises(SuiteError, match=r"method name 'dense' is declared twice .*methods/dense/__init__.py"):
        list_methods()
