import pytest

from reldrop3d.utils.registry import Registry


def test_register_get_and_names():
    reg = Registry("thing")

    @reg.register("a")
    def make_a(x=1):
        return ("a", x)

    assert reg.create("a", x=2) == ("a", 2)
    assert reg.names() == ["a"] and "a" in reg
    with pytest.raises(KeyError, match="unknown thing 'b'; available: a"):
        reg.get("b")
    with pytest.raises(KeyError, match="registered twice"):
        reg.register("a")(lambda: None)


def test_lazy_module_is_imported_on_first_use():
    reg = Registry("codec", lazy_modules={"json_like": "json"})
    assert "json_like" in reg
    with pytest.raises(KeyError):  # json does not register anything: clear error, no crash
        reg.get("json_like")
