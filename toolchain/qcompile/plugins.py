"""Op plug-ins: a new op adds files, not edits to the generic dispatch code.

Each stage that dispatches on an op name (the ONNX and TFLite importers, quantization,
C lowering) keeps its built-in table and also asks a :class:`Registry` bound to a
plug-in package. Every module in that package is imported the first time the registry
is read, and registers its handlers with the :meth:`Registry.register` decorator, so
adding ``frontends/onnx_ops/max_min.py`` is all it takes for the importer to know
``Max`` and ``Min``. Loading is lazy so that plug-in modules may import the stage that
reads them (its helpers) without an import cycle at load time.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from qcompile.errors import QCompileError

H = TypeVar("H", bound=Callable[..., Any])


class Registry(Generic[H]):
    """Handlers keyed by op name, filled by the modules of one package."""

    def __init__(self, package: str, what: str) -> None:
        self.package = package
        self.what = what
        self._handlers: dict[str, H] = {}
        self._extras: dict[str, dict[str, Any]] = {}
        self._loaded = False

    def register(self, *keys: str, **extra: Any) -> Callable[[H], H]:
        """Decorator: ``fn`` handles ``keys``; ``extra`` is per-key metadata (e.g. a check)."""

        def decorate(fn: H) -> H:
            for key in keys:
                if key in self._handlers:
                    raise QCompileError(f"two {self.what} handlers for {key!r}: {self._handlers[key]} and {fn}")
                self._handlers[key] = fn
                self._extras[key] = dict(extra)
            return fn

        return decorate

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self.package}.{info.name}")

    def get(self, key: str) -> H | None:
        self._load()
        return self._handlers.get(key)

    def extra(self, key: str) -> dict[str, Any]:
        self._load()
        return self._extras.get(key, {})

    def __contains__(self, key: object) -> bool:
        self._load()
        return key in self._handlers

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(sorted(self._handlers))
