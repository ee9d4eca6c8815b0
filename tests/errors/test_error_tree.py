"""The tree of errors drawn in errors.py names every error class, where it lives."""

import importlib
import pkgutil
import re

import threads_api
from threads_api import errors


def _error_classes() -> list[type[BaseException]]:
    """Every exception class the service defines, with every module imported."""
    for module in pkgutil.walk_packages(threads_api.__path__, "threads_api."):
        if module.name != "threads_api.__main__":  # running it starts the CLI
            importlib.import_module(module.name)
    found: list[type[BaseException]] = []
    pending: list[type[BaseException]] = [BaseException]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("threads_api."):
            found.append(cls)
    return found


class TestErrorTree:
    def test_the_tree_in_errors_py_draws_every_error_where_it_lives(self) -> None:
        doc = errors.__doc__ or ""
        # "|  + Name   409  code   module/path.py": the depth is where the "+" stands.
        row = re.compile(r"^(?P<indent>[ |]*)\+ (?P<name>\w+)\s+(?:\d{3}\s+)?\w+\s*(?P<at>\S*)$")
        parents: dict[str, str] = {}
        modules: dict[str, str] = {}
        stack = [(-1, "ThreadsError")]
        for line in doc.splitlines():
            match = row.match(line)
            if match is None:
                continue
            depth = len(match["indent"])
            while stack[-1][0] >= depth:
                stack.pop()
            parents[match["name"]] = stack[-1][1]
            modules[match["name"]] = match["at"] or "errors.py"
            stack.append((depth, match["name"]))

        for cls in _error_classes():
            where = cls.__module__.removeprefix("threads_api.").replace(".", "/") + ".py"
            if not issubclass(cls, errors.ThreadsError):  # named in the prose, with its module
                assert f"{cls.__name__} ({where})" in " ".join(doc.split()), cls
                continue
            if cls is errors.ThreadsError:
                continue
            assert cls.__name__ in parents, f"{cls.__name__} ({where}) is missing from the tree"
            assert parents[cls.__name__] == cls.__base__.__name__, cls
            assert modules[cls.__name__] == where, cls
